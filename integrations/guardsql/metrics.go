package guardsql

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/semconv/v1.40.0/dbconv"
)

// now is the clock of use_time, as guardpgx's.
var now = time.Now

// poolMetrics are a database's pool metrics of the semantic conventions
// (v1.40.0), as far as database/sql lets the driver level see them (the
// table in doc.go): the counts of DB.Stats, observed when collected;
// use_time, recorded by each connection as it goes back to the pool; and
// create_time, by the connector.
type poolMetrics struct {
	meter  metric.Meter
	use    metric.Float64Histogram
	create metric.Float64Histogram
	count  metric.Int64ObservableUpDownCounter
	max    metric.Int64ObservableUpDownCounter
	attrs  metric.MeasurementOption // db.client.connection.pool.name

	mu  sync.Mutex
	reg metric.Registration // nil until observe, and again after stop
}

// newPoolMetrics makes the instruments of a database whose pool is named
// name; one the provider refuses is a no-op, reported through otel.Handle
// by the provider.
func newPoolMetrics(mp metric.MeterProvider, name string) *poolMetrics {
	m := &poolMetrics{
		meter: mp.Meter(pkgPath),
		attrs: metric.WithAttributeSet(attribute.NewSet(semconv.DBClientConnectionPoolName(name))),
	}
	use, _ := dbconv.NewClientConnectionUseTime(m.meter)
	create, _ := dbconv.NewClientConnectionCreateTime(m.meter)
	m.use, m.create = use.Inst(), create.Inst()
	m.count = m.observable(dbconv.ClientConnectionCount{})
	m.max = m.observable(dbconv.ClientConnectionMax{})
	return m
}

type semconvInstrument interface {
	Name() string
	Unit() string
	Description() string
}

// observable makes the observed form of a semantic-conventions
// UpDownCounter: database/sql keeps the counts; they are read when
// collected.
func (m *poolMetrics) observable(s semconvInstrument) metric.Int64ObservableUpDownCounter {
	i, _ := m.meter.Int64ObservableUpDownCounter(s.Name(), metric.WithUnit(s.Unit()), metric.WithDescription(s.Description()))
	return i
}

// observe registers db's observed metrics, read from DB.Stats at each
// collection: idle connections (Idle) and used ones (InUse: the open
// ones not idle, which includes one being opened), and the most open
// connections (MaxOpenConnections, not observed while it is 0:
// unlimited). OpenDB calls it once, before returning db; stop (DB.Close)
// ends it.
func (m *poolMetrics) observe(db *sql.DB, name string) {
	pool := semconv.DBClientConnectionPoolName(name)
	idle := metric.WithAttributeSet(attribute.NewSet(pool, semconv.DBClientConnectionStateIdle))
	used := metric.WithAttributeSet(attribute.NewSet(pool, semconv.DBClientConnectionStateUsed))
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := db.Stats()
		o.ObserveInt64(m.count, int64(s.Idle), idle)
		o.ObserveInt64(m.count, int64(s.InUse), used)
		if s.MaxOpenConnections > 0 {
			o.ObserveInt64(m.max, int64(s.MaxOpenConnections), m.attrs)
		}
		return nil
	}, m.count, m.max)
	if err != nil {
		return // the provider reported it (otel.Handle)
	}
	m.mu.Lock()
	m.reg = reg
	m.mu.Unlock()
}

// stop unregisters the observed metrics: the connector's Close, which
// DB.Close calls once. A collection running meanwhile may still read the
// closed DB's Stats (all zero but the maximum).
func (m *poolMetrics) stop() {
	m.mu.Lock()
	reg := m.reg
	m.reg = nil
	m.mu.Unlock()
	if reg != nil {
		_ = reg.Unregister() // an error is the provider's (an SDK provider shut down): nothing left to stop
	}
}

// recordUse records one checkout's use_time: from the checkout seen by
// the driver (Connect, ResetSession or the first call) to its end.
func (m *poolMetrics) recordUse(d time.Duration) {
	m.use.Record(context.Background(), d.Seconds(), m.attrs)
}

// recordCreate records one new connection's create_time: the driver
// connector's Connect, which succeeded.
func (m *poolMetrics) recordCreate(d time.Duration) {
	m.create.Record(context.Background(), d.Seconds(), m.attrs)
}

// defaultPoolName is db.client.connection.pool.name without WithPoolName:
// driverName, followed by the server the data source names when it is a
// URL (scheme://user:password@host:port/database?...) or the key=value
// form of libpq and pgx (host=... port=... dbname=...), as the semantic
// conventions suggest: host:port/database — "pgx 127.0.0.1:5432/app". Of
// the data source name only the host, port and database are ever taken;
// never the user, password or other parameters. A file name (SQLite) or
// another form gives driverName alone.
func defaultPoolName(driverName, dsn string) string {
	if s := dsnServer(dsn); s != "" {
		return driverName + " " + s
	}
	return driverName
}

func dsnServer(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return "" // err may quote dsn: not used
		}
		s := u.Host // without user information
		if db := strings.TrimPrefix(u.Path, "/"); db != "" && !strings.Contains(db, "/") {
			s += "/" + db
		}
		return s
	}
	if strings.ContainsAny(dsn, `'"\`) {
		// A quoted value may hold spaces, and "host=" inside a quoted
		// password is not the host: nothing is taken.
		return ""
	}
	var host, port, db string
	for _, f := range strings.Fields(dsn) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			continue
		}
		switch k {
		case "host":
			host = v
		case "port":
			port = v
		case "dbname":
			db = v
		}
	}
	if host == "" {
		return ""
	}
	s := host
	if port != "" {
		s += ":" + port
	}
	if db != "" {
		s += "/" + db
	}
	return s
}
