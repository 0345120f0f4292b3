package guardsql_test

import (
	"database/sql"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
)

// The set-up docs/guardsql.md shows, compiled here line for line.
func docOpen(dsn string) (*sql.DB, error) {
	db, err := guardsql.Open("pgx", dsn, guardsql.WithHoldThreshold(5*time.Second))
	// or: db := guardsql.OpenDB(connector, opts...)
	return db, err
}

var _ = docOpen
