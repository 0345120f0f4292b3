// The README's transfer, with two mistakes: the error path of BeginTx
// returns before conn is closed, and the rollback guard is disarmed by a
// defer, so it can never roll back. The README and the package's Example
// show the analyzer's reports for this file.
package readme

import (
	"context"
	"database/sql"

	"github.com/otelguard/otelguard-go/otelguard"
)

func transfer(ctx context.Context, db *sql.DB, debitAndCredit func(context.Context, *sql.Tx) error) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	conn := otelguard.Track(ctx, "db.conn", c) // want `conn \(\*otelguard.Resource from Track\) is not closed on every path: the return on line 22 is reached without Close, CloseAsync or Detach`
	tx, err := conn.Value().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)

	rollback := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return tx.Rollback() })
	defer rollback.Disarm() // want `defer rollback.Disarm\(\) disarms the guard on every path, so its cleanup can never run`

	if err := debitAndCredit(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}
