package guardsql

import (
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// An Option configures Open and OpenDB.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is resolved once, by Open or OpenDB; the driver calls read it and
// never change it.
type config struct {
	tracker   *otelguard.Tracker // nil: the context's Tracker, else otelguard.Default()
	system    string             // "": told from the driver
	queryText bool
	hold      time.Duration        // 0: the Tracker's default; < 0: none
	skip      []string             // WithCallerSkipPackages
	mp        metric.MeterProvider // nil: the global provider
	poolName  string               // "": the default (defaultPoolName, or db.system.name for OpenDB)
	metrics   *poolMetrics

	attrs []attribute.KeyValue // db.system.name, given to every lifetime
	// acq are the AcquireOptions of each kind of lifetime (lifeKind), by
	// whether its context can end (1) or not (0), resolved once: the
	// driver calls only pick them.
	acq [4][2][]otelguard.AcquireOption
	// leakRows are acq[kRows][0] with otelguard.ReleaseOnLeak, for rows
	// of a query on the DB itself (see conn.begin).
	leakRows []otelguard.AcquireOption
}

// maxAcquireOptions is the most options acq or leakRows hold for one
// lifetime.
const maxAcquireOptions = 6

// WithTracker makes every lifetime of the database use t. Without it (or
// with a nil t) a lifetime uses the Tracker its context carries
// (otelguard.ContextWithTracker) — the query's context for db.rows, the
// BeginTx context for db.tx, the Prepare context for db.stmt, the DB.Conn
// context for db.conn — and otelguard.Default() when it carries none, as
// otelguard's package-level functions do. So a test can give the code
// under test a context with its own Tracker (otelguardtest.NewTracker)
// without opening the database differently.
func WithTracker(t *otelguard.Tracker) Option {
	return optionFunc(func(c *config) { c.tracker = t })
}

// WithSystemName sets db.system.name (OpenTelemetry semantic conventions
// v1.40.0) on every span: "postgresql", "sqlite", "mysql", … Without it the
// name is told from the driver's package for the drivers this package knows
// (pgx, lib/pq, modernc.org/sqlite, mattn/go-sqlite3,
// go-sql-driver/mysql, microsoft/go-mssqldb), and is "other_sql" for any
// other. An empty name is ignored.
func WithSystemName(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.system = name
		}
	})
}

// WithQueryText adds db.query.text, the query as given to database/sql, to
// db.rows and db.stmt spans. Off by default: a query built by string
// concatenation holds user data, and otelguard's spans hold none unless
// asked. Parameters are never recorded.
func WithQueryText() Option {
	return optionFunc(func(c *config) { c.queryText = true })
}

// WithHoldThreshold sets the hold threshold (otelguard.WithHoldThreshold)
// of every db.rows, db.tx and db.conn lifetime: one still open after d is
// reported held too long — a span event with its acquire stack, the
// otelguard.lifetime.held_too_long counter, and a Warn record through the
// Tracker's logger — which is how an exhausted pool names its holders
// before requests time out. Without it the Tracker's default applies
// (otelguard.WithDefaultHoldThreshold). Zero or negative d: no threshold
// for this database's lifetimes, whatever the Tracker's default. db.stmt
// lifetimes never have one: a prepared statement is meant to live long.
func WithHoldThreshold(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			d = -1
		}
		c.hold = d
	})
}

// WithCallerSkipPackages names packages, by import path, whose frames the
// acquire stack of every lifetime skips when they lead it, as it skips
// database/sql's and this package's: a query builder or ORM between the
// code and database/sql (sqlx, GORM, …), so that the stack starts at the
// code that called it rather than inside it. Options add up. At most 32
// leading frames are skipped in all (otelguard.WithCallerSkipPackages).
func WithCallerSkipPackages(pkgs ...string) Option {
	return optionFunc(func(c *config) { c.skip = append(c.skip, pkgs...) })
}

// WithPoolName sets db.client.connection.pool.name, the attribute of the
// database's pool metrics (see Metrics in the package documentation).
// Without it (or with "") Open names the pool after the driver name and
// the server of the data source name, when it names one as a URL or in
// libpq's key=value form — "pgx 127.0.0.1:5432/app" — and after the driver
// name alone otherwise ("sqlite"); OpenDB, which is given no names, after
// db.system.name ("postgresql"). Never a user, password or other
// parameter of the data source name. Two databases of one process should
// have different names: their metrics are told apart by it alone.
func WithPoolName(name string) Option {
	return optionFunc(func(c *config) { c.poolName = name })
}

// WithMeterProvider sets the provider of the database's pool metrics. A
// nil mp is ignored; the default is the global provider
// (otel.GetMeterProvider), which follows a provider set later by
// otel.SetMeterProvider. A noop provider
// (go.opentelemetry.io/otel/metric/noop) measures nothing. Lifetime spans
// and otelguard's own metrics come from the Tracker's providers.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// newConfig resolves opts for a database whose driver tells sys
// (db.system.name) and whose pool is named poolName unless WithPoolName
// says otherwise ("": after sys).
func newConfig(opts []Option, sys, poolName string) *config {
	c := &config{}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.system == "" {
		c.system = sys
	}
	if c.poolName == "" {
		c.poolName = poolName
	}
	if c.poolName == "" {
		c.poolName = c.system
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	c.metrics = newPoolMetrics(c.mp, c.poolName)
	c.attrs = []attribute.KeyValue{semconv.DBSystemNameKey.String(c.system)}
	// The acquire stack starts at the first frame outside database/sql,
	// this package and the packages the user named: the user's call.
	skip := append([]string{"database/sql", pkgPath}, c.skip...)
	for k := range c.acq {
		for ends := range c.acq[k] {
			opts := make([]otelguard.AcquireOption, 0, maxAcquireOptions)
			opts = append(opts, otelguard.WithCallerSkipPackages(skip...))
			if c.tracker != nil {
				opts = append(opts, otelguard.WithTracker(c.tracker))
			}
			opts = append(opts, otelguard.WithAttributes(c.attrs...))
			switch lifeKind(k) {
			case kRows, kTx:
				if ends == 1 {
					// database/sql closes the rows, or rolls the
					// transaction back, when this context ends: the
					// context owns the end.
					opts = append(opts, otelguard.CloseOnCancel())
				}
			case kStmt:
				opts = append(opts, otelguard.WithHoldThreshold(0), otelguard.OutlivesRequest())
			}
			if c.hold != 0 && lifeKind(k) != kStmt {
				opts = append(opts, otelguard.WithHoldThreshold(c.hold))
			}
			c.acq[k][ends] = opts
		}
	}
	c.leakRows = append(c.acq[kRows][0][:len(c.acq[kRows][0]):len(c.acq[kRows][0])], otelguard.ReleaseOnLeak())
	return c
}

// systemOf tells db.system.name from the package path of the driver's
// type, for the drivers whose database is known from it.
func systemOf(pkgPath string) string {
	for _, k := range knownDrivers {
		if pkgPath == k.pkg || len(pkgPath) > len(k.pkg) && pkgPath[:len(k.pkg)+1] == k.pkg+"/" {
			return k.system
		}
	}
	return "other_sql"
}

var knownDrivers = []struct{ pkg, system string }{
	{"github.com/jackc/pgx/v5", "postgresql"},
	{"github.com/jackc/pgx/v4", "postgresql"},
	{"github.com/lib/pq", "postgresql"},
	{"modernc.org/sqlite", "sqlite"},
	{"github.com/mattn/go-sqlite3", "sqlite"},
	{"github.com/go-sql-driver/mysql", "mysql"},
	{"github.com/microsoft/go-mssqldb", "microsoft.sql_server"},
}
