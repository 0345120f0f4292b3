package guardsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/XSAM/otelsql"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/internal/benchpair"
	"github.com/otelguard/otelguard-go/internal/pgtest"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// The pair benchmarks (issue 29) measure what a team that already traces
// its database with XSAM/otelsql pays for adding guardsql on top: the same
// database through otelsql alone (impl=baseline) and through guardsql
// wrapping otelsql's driver (impl=guarded), with the same OpenTelemetry
// SDK set-up on both sides. Their shape
// is internal/benchpair's, shared by every integration module.

// pairDB opens one side's database: driverName wrapped by otelsql
// (registered under a name of its own), and for the guarded side that
// driver opened through guardsql with a Tracker of the same providers.
// The pool is one connection, as an in-memory SQLite database needs.
func pairDB(b *testing.B, metricsOn, guarded bool, driverName, dsn string, system attribute.KeyValue) *sql.DB {
	s := benchpair.NewSDK(b, metricsOn)
	name, err := otelsql.Register(driverName,
		otelsql.WithTracerProvider(s.TP), otelsql.WithMeterProvider(s.MP), otelsql.WithAttributes(system))
	if err != nil {
		b.Fatal(err)
	}
	var db *sql.DB
	if guarded {
		tr := otelguard.New(otelguard.WithTracerProvider(s.TP), otelguard.WithMeterProvider(s.MP))
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
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) {
		pointSelect(b, sqliteSide(b, metricsOn, guarded), "select y from pair where x = ?")
	})
}

// BenchmarkPairSQLiteScan100: a query of 100 rows, each scanned, then
// Err and Close, on in-memory SQLite.
func BenchmarkPairSQLiteScan100(b *testing.B) {
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) {
		scan100(b, sqliteSide(b, metricsOn, guarded))
	})
}

// BenchmarkPairSQLiteTx: BeginTx, one UPDATE by primary key, Commit, on
// in-memory SQLite.
func BenchmarkPairSQLiteTx(b *testing.B) {
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) {
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
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) {
		pointSelect(b, postgresSide(b, metricsOn, guarded), "select y from pair where x = $1")
	})
}

// BenchmarkPairPostgresScan100 is BenchmarkPairSQLiteScan100 on PostgreSQL.
func BenchmarkPairPostgresScan100(b *testing.B) {
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) {
		scan100(b, postgresSide(b, metricsOn, guarded))
	})
}

// BenchmarkPairPostgresTx is BenchmarkPairSQLiteTx on PostgreSQL.
func BenchmarkPairPostgresTx(b *testing.B) {
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) {
		txExecCommit(b, postgresSide(b, metricsOn, guarded), "update pair set y = $1 where x = $2")
	})
}
