// Package querytest stands for a query builder or ORM between the code
// and database/sql, in a package of its own, for the tests of
// guardsql.WithCallerSkipPackages: a package the tests can name without
// naming their own.
package querytest

import (
	"context"
	"database/sql"
)

// Path is this package's import path.
const Path = "github.com/otelguard/otelguard-go/integrations/guardsql/internal/querytest"

// All queries every row of table t, as a helper of a query library would.
func All(ctx context.Context, db *sql.DB) (*sql.Rows, error) {
	return db.QueryContext(ctx, "select x from t")
}
