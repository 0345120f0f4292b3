package guardsql

import (
	"database/sql"
	"database/sql/driver"
	"reflect"
)

// Open opens a database as sql.Open does, with the driver registered as
// driverName, and returns the *sql.DB through which every rows,
// transaction, DB.Conn checkout and prepared statement is watched. Like
// sql.Open it validates its arguments (the driver's OpenConnector parses
// dataSourceName, where the driver has one) without connecting.
func Open(driverName, dataSourceName string, opts ...Option) (*sql.DB, error) {
	// database/sql does not hand out a registered driver by name: a DB
	// opened and closed at once (neither connects) does.
	probe, err := sql.Open(driverName, dataSourceName)
	if err != nil {
		return nil, err
	}
	d := probe.Driver()
	_ = probe.Close()
	var c driver.Connector = dsnConnector{dsn: dataSourceName, d: d}
	if dc, ok := d.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dataSourceName); err != nil {
			return nil, err
		}
	}
	return openDB(c, opts, defaultPoolName(driverName, dataSourceName)), nil
}

// OpenDB opens a database with the connector c, as sql.OpenDB does, and
// returns the *sql.DB through which every rows, transaction, DB.Conn
// checkout and prepared statement is watched. It panics if c is nil.
func OpenDB(c driver.Connector, opts ...Option) *sql.DB {
	if c == nil {
		panic("guardsql: OpenDB: nil driver.Connector")
	}
	return openDB(c, opts, "")
}

// openDB is OpenDB with the default pool name ("": db.system.name).
func openDB(c driver.Connector, opts []Option, poolName string) *sql.DB {
	cfg := newConfig(opts, systemOf(driverPkg(c)), poolName)
	db := sql.OpenDB(&connector{c: c, cfg: cfg})
	cfg.metrics.observe(db, cfg.poolName)
	return db
}

// driverPkg is the package path of c's driver's type.
func driverPkg(c driver.Connector) string {
	d := c.Driver()
	if d == nil {
		return ""
	}
	t := reflect.TypeOf(d)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath()
}

// Unwrap returns the driver's own connection when given the connection
// that *sql.Conn.Raw hands its function (a connection of a database opened
// by Open or OpenDB), and its argument otherwise:
//
//	err := conn.Raw(func(dc any) error {
//		pc := guardsql.Unwrap(dc).(*stdlib.Conn).Conn() // pgx
//		return pc.Ping(ctx)
//	})
//
// Calls made on the driver's own connection are not watched.
func Unwrap(driverConn any) any {
	switch c := driverConn.(type) {
	case *conn:
		return c.c
	case resetConn:
		return c.c
	}
	return driverConn
}
