package guardsql_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// The snippets of the package documentation and of the repository's
// README, as code that runs against the shared PostgreSQL server
// (internal/snippets checks that they are here, line for line).

// openREADME is the README's snippet.
func openREADME(dsn string) (*sql.DB, error) {
	db, err := guardsql.Open("pgx", dsn, // or guardsql.OpenDB(connector)
		guardsql.WithHoldThreshold(2*time.Second)) // shorter than your request timeout
	return db, err
}

// openDoc is the package documentation's snippet.
func openDoc(dsn string) (*sql.DB, error) {
	db, err := guardsql.Open("pgx", dsn, guardsql.WithHoldThreshold(5*time.Second))
	return db, err
}

// ping is Unwrap's snippet.
func ping(ctx context.Context, conn *sql.Conn) error {
	err := conn.Raw(func(dc any) error {
		pc := guardsql.Unwrap(dc).(*stdlib.Conn).Conn() // pgx
		return pc.Ping(ctx)
	})
	return err
}

func TestSnippets(t *testing.T) {
	s := postgres(t)
	rec := otelguardtest.NewTracker(t)
	ctx := rec.Context()
	for _, open := range []func(string) (*sql.DB, error){openREADME, openDoc} {
		db, err := open(s.DSN)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ping(ctx, conn); err != nil {
			t.Fatal(err)
		}
		if err := conn.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
