// sqlclosecheck #14, "Statements prepared in transaction do not need to be
// closed" (https://github.com/ryanrolds/sqlclosecheck/issues/14), and #9
// (https://github.com/ryanrolds/sqlclosecheck/issues/9): another owner
// closes them. With otelguard that owner is a Scope, given them with Add.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func preparedInTransaction(ctx context.Context) error {
	tx := otelguard.NewScope(ctx, "tx")
	defer tx.Close(ctx)
	for _, q := range []string{"a", "b"} {
		n, err := query(q)
		if err != nil {
			return err
		}
		stmt := otelguard.Acquire(ctx, "stmt", n, release)
		tx.Add(stmt)
	}
	return nil
}
