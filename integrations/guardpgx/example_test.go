package guardpgx_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
)

// ConfigurePool on a parsed config, after otelpgx: otelpgx keeps its
// place and sees every call first; guardpgx comes after it. (otelpgx
// traces acquires but not releases; guardpgx needs both.)
func ExampleConfigurePool() {
	cfg, err := pgxpool.ParseConfig("postgres://app@127.0.0.1:5432/app?pool_max_conns=8")
	if err != nil {
		panic(err)
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	guardpgx.ConfigurePool(cfg, guardpgx.WithHoldThreshold(10*time.Second))
	// pool, err := pgxpool.NewWithConfig(ctx, cfg)

	mt := cfg.ConnConfig.Tracer.(*multitracer.Tracer)
	_, first := mt.QueryTracers[0].(*otelpgx.Tracer)
	fmt.Println("query tracers:", len(mt.QueryTracers), "otelpgx first:", first)
	fmt.Println("acquire tracers:", len(mt.PoolAcquireTracers), "release tracers:", len(mt.PoolReleaseTracers))
	// Output:
	// query tracers: 2 otelpgx first: true
	// acquire tracers: 2 release tracers: 1
}

// ConfigureConn on a single connection's config with no tracer yet:
// guardpgx's is the only one.
func ExampleConfigureConn() {
	cfg, err := pgx.ParseConfig("postgres://app@127.0.0.1:5432/app")
	if err != nil {
		panic(err)
	}
	guardpgx.ConfigureConn(cfg, guardpgx.WithQueryText())
	// conn, err := pgx.ConnectConfig(ctx, cfg)

	_, chained := cfg.Tracer.(*multitracer.Tracer)
	fmt.Println("tracer set:", cfg.Tracer != nil, "chained:", chained)
	// Output:
	// tracer set: true chained: false
}

// A handler's queries run with the request's context: guardhttp.NewHandler
// (or otelguard.ContextWithRequest) makes each request a unit of work, so
// rows the handler forgets to close are reported when it returns, naming
// the Query's line, while the pool's connection is still held.
func Example_request() {
	var pool *pgxpool.Pool // pgxpool.NewWithConfig on a config given to ConfigurePool
	handler := func(w http.ResponseWriter, r *http.Request) {
		rows, err := pool.Query(r.Context(), "select name from items")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rows.Close() // without it: reported when the request ends
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return
			}
			fmt.Fprintln(w, name)
		}
	}
	_ = handler
}

// openPool is the set-up the package documentation shows.
func openPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	guardpgx.ConfigurePool(cfg) // after otelpgx, if cfg.ConnConfig.Tracer is set
	return pgxpool.NewWithConfig(ctx, cfg)
}

var _ = openPool // compiled, not run: it needs a server
