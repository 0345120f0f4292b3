package guardpgx_test

import (
	"context"
	"log/slog"
	"syscall"
	"testing"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is a span exporter that drops what it is given: the benchmark
// measures making and processing spans, not a backend.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkPairPgx compares otelpgx alone with otelpgx and guardpgx
// chained after it, on the same pool configuration, queries and server, in
// one run: a point SELECT, a 100-row scan, and BeginTx, Exec and Commit.
// Besides the wall time it reports cpu-ns/op, the process's CPU time per
// query (see cpuTime), server excluded: the measure of what each adds.
// Both record every span (AlwaysSample) through a batch processor into a
// discarding exporter; guardpgx's Tracker uses the same provider. The
// queries run under a recording span, as in a request (otelpgx starts no
// span without one).
func BenchmarkPairPgx(b *testing.B) {
	s := postgres(b)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithLogger(slog.New(slog.DiscardHandler)))
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })

	ctx, span := tp.Tracer("bench").Start(context.Background(), "request")
	defer span.End()
	setup, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := setup.Exec(ctx, `drop table if exists bench;
		create table bench(id int primary key, v text);
		insert into bench select i, 'value ' || i from generate_series(1, 1000) i`); err != nil {
		b.Fatal(err)
	}
	setup.Close(ctx)

	pools := []struct {
		impl string
		pool *pgxpool.Pool
	}{
		// impl=baseline is otelpgx alone, impl=guarded otelpgx and guardpgx:
		// the shape make bench-pairs and benchratio read (issue 29).
		{"baseline", benchPool(b, s.DSN, tp, nil)},
		{"guarded", benchPool(b, s.DSN, tp, []guardpgx.Option{guardpgx.WithTracker(tr)})},
	}
	queries := []struct {
		name string
		run  func(b *testing.B, p *pgxpool.Pool)
	}{
		{"query=point", func(b *testing.B, p *pgxpool.Pool) {
			var v string
			if err := p.QueryRow(ctx, "select v from bench where id = $1", 42).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}},
		{"query=scan100", func(b *testing.B, p *pgxpool.Pool) {
			rows, err := p.Query(ctx, "select id, v from bench where id <= 100")
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var id int32
				var v string
				if err := rows.Scan(&id, &v); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if rows.Err() != nil || n != 100 {
				b.Fatalf("%d rows, %v", n, rows.Err())
			}
		}},
		{"query=tx", func(b *testing.B, p *pgxpool.Pool) {
			tx, err := p.BeginTx(ctx, pgx.TxOptions{})
			if err != nil {
				b.Fatal(err)
			}
			// A transaction-local setting (a request's context for row-level
			// security, say): it writes nothing, so the table does not bloat
			// over the run and favour whichever implementation runs first.
			if _, err := tx.Exec(ctx, "select set_config('app.request', $1, true)", "bench"); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for _, q := range queries {
		for _, p := range pools {
			b.Run(q.name+"/impl="+p.impl, func(b *testing.B) {
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					q.run(b, p.pool)
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the CPU time the process has used, user and system, in
// nanoseconds: the client's cost of a query, which, unlike its wall time
// (a round trip to the server, on a machine that others share), does not
// move with the server's load. It counts every goroutine: the batch span
// processor's export work is in it.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchPool is a pool of four with otelpgx's tracer, and guardpgx's after
// it when opts is not nil.
func benchPool(b *testing.B, dsn string, tp *sdktrace.TracerProvider, opts []guardpgx.Option) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp))
	if opts != nil {
		guardpgx.ConfigurePool(cfg, opts...)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}
