package guardsql_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// The benchmarks compare a database opened by guardsql with the same
// driver opened bare (impl=bare, the baseline first), on an in-memory
// SQLite database of one connection, with a recording provider: every
// span sampled, a batch span processor, an exporter that discards. Run
// them alternating, one sample per run of the binary, and compare sample
// by sample (internal/cmd/benchratio); see README.md.

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// benchDBs opens the two databases and the Tracker guardsql's records to,
// and returns a tracer of the same provider for the impl=span baseline:
// the bare database with one span started and ended around each
// operation, what any tracing of it costs at least.
func benchDBs(b *testing.B) (bare, guarded *sql.DB, tracer trace.Tracer) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	tracer = tp.Tracer("bench")
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	b.Cleanup(func() {
		_ = tr.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	open := func(db *sql.DB, err error) *sql.DB {
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1) // one in-memory database
		db.SetMaxIdleConns(1)
		if _, err := db.Exec("create table t(x integer primary key, y text); insert into t values (1, 'a'), (2, 'b'), (3, 'c')"); err != nil {
			b.Fatal(err)
		}
		return db
	}
	bare = open(sql.Open("sqlite", ":memory:"))
	guarded = open(guardsql.Open("sqlite", ":memory:", guardsql.WithTracker(tr)))
	return bare, guarded, tracer
}

var spanAttrs = trace.WithAttributes(semconv.DBSystemNameSQLite)

// BenchmarkSelect: a point SELECT read with QueryRowContext and Scan.
func BenchmarkSelect(b *testing.B) {
	bare, guarded, tracer := benchDBs(b)
	ctx := context.Background()
	for _, impl := range []struct {
		name string
		db   *sql.DB
		span bool
	}{{"bare", bare, false}, {"span", bare, true}, {"guardsql", guarded, false}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			var y string
			for b.Loop() {
				var span trace.Span
				if impl.span {
					_, span = tracer.Start(ctx, "db.rows", spanAttrs)
				}
				if err := impl.db.QueryRowContext(ctx, "select y from t where x = ?", 2).Scan(&y); err != nil {
					b.Fatal(err)
				}
				if impl.span {
					span.End()
				}
			}
		})
	}
}

// BenchmarkTx: BeginTx and Commit.
func BenchmarkTx(b *testing.B) {
	bare, guarded, tracer := benchDBs(b)
	ctx := context.Background()
	for _, impl := range []struct {
		name string
		db   *sql.DB
		span bool
	}{{"bare", bare, false}, {"span", bare, true}, {"guardsql", guarded, false}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var span trace.Span
				if impl.span {
					_, span = tracer.Start(ctx, "db.tx", spanAttrs)
				}
				tx, err := impl.db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				if impl.span {
					span.End()
				}
			}
		})
	}
}

// BenchmarkPostgresSelect is BenchmarkSelect on the PostgreSQL server the
// tests start, through pgx, over loopback TCP: what the same overhead
// weighs against a database across a socket. It is skipped only where
// there can be no server (postgresForBench); a server that fails to start
// fails it.
func BenchmarkPostgresSelect(b *testing.B) {
	pg := postgres(b)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	tracer := tp.Tracer("bench")
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	b.Cleanup(func() {
		_ = tr.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	open := func(db *sql.DB, err error) *sql.DB {
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		if _, err := db.Exec("create table if not exists bench(x int primary key, y text); insert into bench values (1, 'a'), (2, 'b') on conflict do nothing"); err != nil {
			b.Fatal(err)
		}
		return db
	}
	bare := open(sql.Open("pgx", pg.DSN))
	guarded := open(guardsql.Open("pgx", pg.DSN, guardsql.WithTracker(tr)))
	ctx := context.Background()
	for _, impl := range []struct {
		name string
		db   *sql.DB
		span bool
	}{{"bare", bare, false}, {"span", bare, true}, {"guardsql", guarded, false}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			var y string
			for b.Loop() {
				var span trace.Span
				if impl.span {
					_, span = tracer.Start(ctx, "db.rows", spanAttrs)
				}
				if err := impl.db.QueryRowContext(ctx, "select y from bench where x = $1", 2).Scan(&y); err != nil {
					b.Fatal(err)
				}
				if impl.span {
					span.End()
				}
			}
		})
	}
}

// BenchmarkPoolMetrics: what the pool metrics add to a point SELECT on
// guardsql (one checkout, so one use_time recorded): the same database
// opened with a noop MeterProvider (the baseline, first) and with an SDK
// one read by a ManualReader that is never collected.
func BenchmarkPoolMetrics(b *testing.B) {
	tr := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))))
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	ctx := context.Background()
	for _, impl := range []struct {
		name string
		mp   metric.MeterProvider
	}{{"noop", noop.NewMeterProvider()}, {"sdk", mp}} {
		db, err := guardsql.Open("sqlite", ":memory:", guardsql.WithTracker(tr), guardsql.WithMeterProvider(impl.mp))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		if _, err := db.Exec("create table t(x integer primary key, y text); insert into t values (1, 'a'), (2, 'b'), (3, 'c')"); err != nil {
			b.Fatal(err)
		}
		b.Run("meter="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			var y string
			for b.Loop() {
				if err := db.QueryRowContext(ctx, "select y from t where x = ?", 2).Scan(&y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
