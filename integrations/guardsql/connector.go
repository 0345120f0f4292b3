package guardsql

import (
	"context"
	"database/sql/driver"
	"io"
)

// connector wraps the driver's connector: every connection it makes is
// wrapped.
type connector struct {
	c   driver.Connector
	cfg *config
}

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

func (k *connector) Connect(ctx context.Context) (driver.Conn, error) {
	s := walkCaller()
	start := now()
	dc, err := k.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	k.cfg.metrics.recordCreate(now().Sub(start))
	c := newConn(dc, k.cfg)
	if s != siteOwn {
		// Opened for the caller that asked (DB.Conn, a query), not put
		// in the pool by database/sql's opener goroutine for a waiter.
		c.checkout(ctx, s)
	}
	return c.driverConn(), nil
}

// Driver returns the driver's own driver.Driver, as DB.Driver does
// without this package.
func (k *connector) Driver() driver.Driver { return k.c.Driver() }

// Close ends the database's observed pool metrics, and closes the
// driver's connector if it is an io.Closer, as database/sql would: DB.Close
// calls it, once.
func (k *connector) Close() error {
	k.cfg.metrics.stop()
	if c, ok := k.c.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// dsnConnector is database/sql's for a driver without OpenConnector.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }
