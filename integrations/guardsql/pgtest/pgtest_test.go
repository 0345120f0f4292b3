package pgtest_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/otelguard/otelguard-go/integrations/guardsql/pgtest"
)

func TestStart(t *testing.T) {
	s := pgtest.Start(t)
	db, err := sql.Open("pgx", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), "select version()").Scan(&v); err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.Log())
	}
	t.Log(v)
}
