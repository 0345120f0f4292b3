package guardpgx

import (
	"log/slog"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures ConfigurePool and ConfigureConn.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// DefaultHoldThreshold is the hold threshold of every db.rows, db.tx,
// db.batch and db.conn lifetime unless WithHoldThreshold says otherwise:
// pgx never closes dropped rows, and the collector cannot find them (see
// the package doc), so a threshold is what names a holder that no request
// check sees.
const DefaultHoldThreshold = 30 * time.Second

// DefaultFindingInterval is the shortest time between two pool_exhausted
// findings of one pool unless WithFindingInterval says otherwise.
const DefaultFindingInterval = 10 * time.Second

// config is resolved once, by ConfigurePool or ConfigureConn; the tracer
// reads it and never changes it.
type config struct {
	tracker   *otelguard.Tracker // nil: the context's Tracker, else otelguard.Default()
	queryText bool
	hold      time.Duration // 0: DefaultHoldThreshold; < 0: none
	skip      []string
	poolName  string
	interval  time.Duration // 0: DefaultFindingInterval; < 0: no limit
	tp        trace.TracerProvider
	mp        metric.MeterProvider
	logger    *slog.Logger
}

// WithTracker makes every lifetime use t. Without it (or with a nil t) a
// lifetime uses the Tracker its context carries
// (otelguard.ContextWithTracker) — the query's context for db.rows, the
// Begin context for db.tx, SendBatch's for db.batch, Acquire's for db.conn
// — and otelguard.Default() when it carries none, so a test can give the
// code under test a context with its own Tracker (otelguardtest.NewTracker)
// without configuring the pool differently.
func WithTracker(t *otelguard.Tracker) Option {
	return optionFunc(func(c *config) { c.tracker = t })
}

// WithHoldThreshold sets the hold threshold (otelguard.WithHoldThreshold)
// of every db.rows, db.tx, db.batch and db.conn lifetime: one still open
// after d is reported held too long, while it is still open, with its
// acquire stack. Zero selects DefaultHoldThreshold (30s); a negative d
// means no threshold. It applies whatever the Tracker's own default
// (otelguard.WithDefaultHoldThreshold) is. Pick d longer than the slowest legitimate query and
// shorter than the request timeout, so that the holders are named while
// requests still wait.
func WithHoldThreshold(d time.Duration) Option {
	return optionFunc(func(c *config) { c.hold = d })
}

// WithQueryText adds db.query.text, the SQL as given to pgx, to db.rows
// spans. Off by default: a query built by string concatenation holds user
// data, and otelguard's spans hold none unless asked. Arguments are never
// recorded.
func WithQueryText() Option {
	return optionFunc(func(c *config) { c.queryText = true })
}

// WithCallerSkipPackages names packages, by import path, whose frames the
// acquire stack of every lifetime skips when they lead it, as it skips
// pgx's, pgxpool's, multitracer's and this package's: a repository layer
// or query builder between the code and pgx, so that the stack starts at
// the code that called it. Options add up. At most 32 leading frames are
// skipped in all (otelguard.WithCallerSkipPackages).
func WithCallerSkipPackages(pkgs ...string) Option {
	return optionFunc(func(c *config) { c.skip = append(c.skip, pkgs...) })
}

// WithPoolName sets db.client.connection.pool.name, on the pool's metrics,
// its db.conn spans and its findings. Without it (or with "") the name is
// server.address:server.port/db.namespace of the configuration's first
// host, as the semantic conventions suggest: "127.0.0.1:5432/app".
func WithPoolName(name string) Option {
	return optionFunc(func(c *config) { c.poolName = name })
}

// WithFindingInterval bounds the pool_exhausted findings of one pool: the
// first is emitted at once, then at most one per interval d, the next one
// carrying otelguard.repeats, the failed acquires not reported since.
// Zero selects DefaultFindingInterval (10s); a negative d reports every
// failed acquire.
func WithFindingInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.interval = d })
}

// WithTracerProvider sets the provider of the finding spans
// (pool_exhausted). Lifetime spans come from the Tracker's own provider.
// A nil tp is ignored; the default is the global provider
// (otel.GetTracerProvider) at the time of ConfigurePool.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tp = tp
		}
	})
}

// WithMeterProvider sets the provider of the pool's metrics. A nil mp is
// ignored; the default is the global provider (otel.GetMeterProvider) at
// the time of ConfigurePool.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// WithLogger sets the logger of the pool_exhausted Warn records. A nil l
// is ignored; the default is slog.Default() at the time of the record.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

func (c *config) holdThreshold() time.Duration {
	switch {
	case c.hold == 0:
		return DefaultHoldThreshold
	case c.hold < 0:
		return -1
	}
	return c.hold
}

func (c *config) findingInterval() time.Duration {
	if c.interval == 0 {
		return DefaultFindingInterval
	}
	return c.interval
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}
