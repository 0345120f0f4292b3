package guardsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

	"github.com/XSAM/otelsql"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/internal/pgtest"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// The pair benchmarks (issue 29) measure what a team that already traces
// its database with XSAM/otelsql pays for adding guardsql on top: the same
// database through otelsql alone (impl=baseline) and through guardsql
// wrapping otelsql's driver (impl=guarded), with the same OpenTelemetry
// SDK set-up on both sides. Their shape, shared by every integration
// module's BenchmarkPair* (make bench-pairs runs them all):
//
//	BenchmarkPair<Name>/metrics=<on|off>/impl=<baseline|guarded>
//
//   - the SDK as users get it: a TracerProvider sampling every root span,
//     with a batch span processor to an exporter that discards; metrics=on
//     an SDK MeterProvider with a ManualReader (never collected), given to
//     the alternative and to the Tracker alike; metrics=off a noop
//     MeterProvider on both sides;
//   - leak detection at its default (stacks), no other Tracker option;
//   - each side builds its own providers, Tracker and database in its
//     sub-benchmark, so that nothing of one side is measured in the other;
//   - the order of the two sides follows $BENCH_PAIR_ORDER:
//     "guarded-first" runs impl=guarded before impl=baseline, anything
//     else the baseline first. make bench-pairs flips it run by run, so
//     that neither side always runs first in its process;
//   - the target is guarded ≤ 1.10× baseline (ns/op, paired run by run by
//     internal/cmd/benchratio).

// pairOrder is the order of a pair's two sides, from $BENCH_PAIR_ORDER.
func pairOrder() []string {
	if os.Getenv("BENCH_PAIR_ORDER") == "guarded-first" {
		return []string{"guarded", "baseline"}
	}
	return []string{"baseline", "guarded"}
}

// runPair runs side(b, metricsOn, guarded) as the pair's four
// sub-benchmarks: metrics on, then off, each side in pairOrder's order.
func runPair(b *testing.B, side func(b *testing.B, metricsOn, guarded bool)) {
	for _, on := range []bool{true, false} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			for _, impl := range pairOrder() {
				b.Run("impl="+impl, func(b *testing.B) { side(b, on, impl == "guarded") })
			}
		})
	}
}

// pairSDK is one side's OpenTelemetry set-up.
type pairSDK struct {
	tp *sdktrace.TracerProvider
	mp metric.MeterProvider
}

func newPairSDK(b *testing.B, metricsOn bool) pairSDK {
	s := pairSDK{
		tp: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{})),
		mp: metricnoop.NewMeterProvider(),
	}
	b.Cleanup(func() { _ = s.tp.Shutdown(context.Background()) })
	if metricsOn {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		s.mp = mp
	}
	return s
}

// pairDB opens one side's database: driverName wrapped by otelsql
// (registered under a name of its own), and for the guarded side that
// driver opened through guardsql with a Tracker of the same providers.
// The pool is one connection, as an in-memory SQLite database needs.
func pairDB(b *testing.B, metricsOn, guarded bool, driverName, dsn string, system attribute.KeyValue) *sql.DB {
	s := newPairSDK(b, metricsOn)
	name, err := otelsql.Register(driverName,
		otelsql.WithTracerProvider(s.tp), otelsql.WithMeterProvider(s.mp), otelsql.WithAttributes(system))
	if err != nil {
		b.Fatal(err)
	}
	var db *sql.DB
	if guarded {
		tr := otelguard.New(otelguard.WithTracerProvider(s.tp), otelguard.WithMeterProvider(s.mp))
		b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		db, err = guardsql.Open(name, dsn, guardsql.WithTracker(tr), guardsql.WithSystemName(system.Value.AsString()))
	} else {
		db, err = sql.Open(name, dsn)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db
}

// pairSchema makes a table pair of 100 rows (x 1..100, y "row x"),
// afresh: on PostgreSQL, whose server the benchmarks share, each side
// drops the table the previous side made.
func pairSchema(b *testing.B, db *sql.DB) {
	for _, s := range []string{"drop table if exists pair", "create table pair(x integer primary key, y text)"} {
		if _, err := db.Exec(s); err != nil {
			b.Fatal(err)
		}
	}
	for i := 1; i <= 100; i++ {
		if _, err := db.Exec(fmt.Sprintf("insert into pair values (%d, 'row %d')", i, i)); err != nil {
			b.Fatal(err)
		}
	}
}

// The three workloads, on a database of pairSchema; q is the query in the
// driver's placeholders. Each fails b on any error.

func pointSelect(b *testing.B, db *sql.DB, q string) {
	ctx := context.Background()
	var y string
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRowContext(ctx, q, 42).Scan(&y); err != nil {
			b.Fatal(err)
		}
	}
	if y != "row 42" {
		b.Fatalf("read %q, want %q", y, "row 42")
	}
}

func scan100(b *testing.B, db *sql.DB) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.QueryContext(ctx, "select x, y from pair order by x")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var x int
			var y string
			if err := rows.Scan(&x, &y); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		if err := rows.Close(); err != nil {
			b.Fatal(err)
		}
		if n != 100 {
			b.Fatalf("scanned %d rows, want 100", n)
		}
	}
}

func txExecCommit(b *testing.B, db *sql.DB, q string) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, q, "updated", 42); err != nil {
			_ = tx.Rollback()
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func sqliteSide(b *testing.B, metricsOn, guarded bool) *sql.DB {
	db := pairDB(b, metricsOn, guarded, "sqlite", ":memory:", semconv.DBSystemNameSQLite)
	pairSchema(b, db)
	return db
}

// BenchmarkPairSQLiteSelect: a point SELECT by primary key (QueryRowContext
// and Scan) on in-memory SQLite.
func BenchmarkPairSQLiteSelect(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) {
		pointSelect(b, sqliteSide(b, metricsOn, guarded), "select y from pair where x = ?")
	})
}

// BenchmarkPairSQLiteScan100: a query of 100 rows, each scanned, then
// Err and Close, on in-memory SQLite.
func BenchmarkPairSQLiteScan100(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) {
		scan100(b, sqliteSide(b, metricsOn, guarded))
	})
}

// BenchmarkPairSQLiteTx: BeginTx, one UPDATE by primary key, Commit, on
// in-memory SQLite.
func BenchmarkPairSQLiteTx(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) {
		txExecCommit(b, sqliteSide(b, metricsOn, guarded), "update pair set y = ? where x = ?")
	})
}

// postgresForBench returns the shared PostgreSQL server, as postgres does
// for the tests: a skip that says why only where there can be none here
// and CI is not set (pgtest.Missing), a failure otherwise — a benchmark
// whose harness should work must not drop its row silently.
func postgresForBench(b *testing.B) *pgtest.Server {
	b.Helper()
	return postgres(b)
}

func postgresSide(b *testing.B, metricsOn, guarded bool) *sql.DB {
	srv := postgresForBench(b)
	db := pairDB(b, metricsOn, guarded, "pgx", srv.DSN, semconv.DBSystemNamePostgreSQL)
	pairSchema(b, db)
	return db
}

// BenchmarkPairPostgresSelect is BenchmarkPairSQLiteSelect on PostgreSQL
// over loopback TCP, through pgx's database/sql driver.
func BenchmarkPairPostgresSelect(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) {
		pointSelect(b, postgresSide(b, metricsOn, guarded), "select y from pair where x = $1")
	})
}

// BenchmarkPairPostgresScan100 is BenchmarkPairSQLiteScan100 on PostgreSQL.
func BenchmarkPairPostgresScan100(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) {
		scan100(b, postgresSide(b, metricsOn, guarded))
	})
}

// BenchmarkPairPostgresTx is BenchmarkPairSQLiteTx on PostgreSQL.
func BenchmarkPairPostgresTx(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) {
		txExecCommit(b, postgresSide(b, metricsOn, guarded), "update pair set y = $1 where x = $2")
	})
}
