// sqlclosecheck #43, "False positive on closing rows with external
// function/method" (https://github.com/ryanrolds/sqlclosecheck/issues/43):
// defer deferRows(rows), and defer func() { _ = rows.Close() }().
package falsepositives

import (
	"context"
	"log"

	"github.com/otelguard/otelguard-go/otelguard"
)

func deferRows(ctx context.Context, rows *otelguard.Resource[int]) {
	if err := rows.Close(ctx); err != nil {
		log.Print(err)
	}
}

func closedByDeferredHelper(ctx context.Context) error {
	n, err := query("some query")
	if err != nil {
		return err
	}
	rows := otelguard.Acquire(ctx, "rows", n, release)
	defer deferRows(ctx, rows)
	return nil
}

func closedByDeferredClosure(ctx context.Context, callback func(int)) error {
	n, err := query("some query")
	if err != nil {
		return err
	}
	rows := otelguard.Acquire(ctx, "rows", n, release)
	defer func() { _ = rows.Close(ctx) }()
	for i := range rows.Value() {
		if i < 0 {
			return err
		}
		callback(i)
	}
	return nil
}
