package guardpgx

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ConfigurePool installs guardpgx's tracer in cfg (cfg.ConnConfig.Tracer),
// chained after the tracer already there (otelpgx's, for example, which
// keeps seeing every call, first), so that the pool made from cfg
// (pgxpool.NewWithConfig) watches its rows, transactions, batches and
// checkouts, reports a failed acquire as a pool_exhausted finding naming
// every holder, and reports the pool's metrics. Call it once per config,
// after setting any tracer of your own and before making the pool; a
// second call replaces guardpgx's tracer (and its options) rather than
// adding another. It does not block and touches nothing but cfg.
//
// It panics with a "guardpgx: " message if cfg or cfg.ConnConfig is nil (a
// config not made by pgxpool.ParseConfig).
func ConfigurePool(cfg *pgxpool.Config, opts ...Option) {
	if cfg == nil || cfg.ConnConfig == nil {
		panic("guardpgx: ConfigurePool needs a config made by pgxpool.ParseConfig")
	}
	install(cfg.ConnConfig, opts, poolNameOf(cfg.ConnConfig))
}

// ConfigureConn installs guardpgx's tracer in cfg (cfg.Tracer), chained
// after the tracer already there, so that a connection made from cfg
// (pgx.ConnectConfig) watches its rows, transactions and batches. There is
// no pool, so no checkout, finding or metric. The rules of ConfigurePool
// apply.
//
// It panics with a "guardpgx: " message if cfg is nil.
func ConfigureConn(cfg *pgx.ConnConfig, opts ...Option) {
	if cfg == nil {
		panic("guardpgx: ConfigureConn needs a config made by pgx.ParseConfig")
	}
	install(cfg, opts, poolNameOf(cfg))
}

// install sets cfg.Tracer to t, after the tracer already set, unless that
// is (or holds) a tracer of guardpgx's, which t replaces.
func install(cfg *pgx.ConnConfig, opts []Option, poolName string) {
	t := newTracer(opts, poolName)
	switch old := cfg.Tracer.(type) {
	case nil:
		cfg.Tracer = t
	case *tracer:
		cfg.Tracer = t
	case *multitracer.Tracer:
		var others []pgx.QueryTracer
		for _, q := range old.QueryTracers {
			if _, ours := q.(*tracer); !ours {
				others = append(others, q)
			}
		}
		if len(others) == len(old.QueryTracers) {
			cfg.Tracer = multitracer.New(old, t)
			return
		}
		cfg.Tracer = multitracer.New(append(others, t)...)
	default:
		cfg.Tracer = multitracer.New(old, t)
	}
}

// poolNameOf is server.address:server.port/db.namespace, as the semantic
// conventions suggest for a pool without a name.
func poolNameOf(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}
