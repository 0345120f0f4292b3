// sqlclosecheck #35, "False positive: db.Queryx"
// (https://github.com/ryanrolds/sqlclosecheck/issues/35): the rows of
// another library's type went unrecognised. The analyzer knows handles by
// their type in package otelguard, so a type of the same name elsewhere is
// not one, and the otelguard handle is checked whatever wraps it.
package falsepositives

import (
	"context"
	"log"

	"github.com/otelguard/otelguard-go/otelguard"
)

// Resource is not otelguard's.
type Resource[T any] struct{ v T }

func (r *Resource[T]) Close(context.Context) error { return nil }

func queryx(string) (*Resource[int], error) { return &Resource[int]{}, nil }

func example(ctx context.Context) {
	db := otelguard.Acquire(ctx, "db", 1, release)
	defer db.Close(ctx)

	rows, err := queryx("SELECT * FROM users")
	if err != nil {
		log.Print(err)
		return
	}
	defer rows.Close(ctx)
	local := &Resource[int]{}
	_ = local
}
