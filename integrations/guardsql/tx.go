package guardsql

import (
	"context"
	"database/sql/driver"

	"github.com/otelguard/otelguard-go/otelguard"
)

// tx wraps a driver transaction as a db.tx lifetime, from BeginTx to the
// driver's Commit or Rollback. database/sql commits or rolls back when the
// caller asks, and rolls back by itself when the BeginTx context ends
// (on a goroutine of its own): that one ends the lifetime with trigger
// cancel and otelguard.db.closed_by=context, a missed close.
//
// database/sql's goroutine holds every *sql.Tx until its context ends (a
// context.Background transaction: forever), so a transaction the code
// forgot is never garbage and leak detection never reports it. The hold
// threshold, Tracker.Live, otelguard/debug's live view and
// Tracker.Shutdown (open_at_shutdown) show it instead.
type tx struct {
	t       driver.Tx
	c       *conn
	res     *otelguard.Resource[*ending]
	e       *ending
	ctx     context.Context // BeginTx's
	watched bool            // CloseOnCancel: ctx can end
}

var _ driver.Tx = (*tx)(nil)

func (c *conn) startTx(ctx context.Context, t driver.Tx) driver.Tx {
	e := &ending{tx: t}
	wt := &tx{t: t, c: c, e: e, ctx: ctx, watched: ctx.Done() != nil}
	wt.res = c.begin(ctx, SpanTx, e, kTx, "")
	c.txCtx = ctx
	return wt
}

func (t *tx) Commit() error {
	t.c.txCtx = nil
	return finish(t.res, t.e, byCaller, true, false)
}

func (t *tx) Rollback() error {
	t.c.txCtx = nil
	ended := t.ctx.Err() != nil
	by := byCaller
	if ended {
		// database/sql's rollback when the context ended, or a caller's
		// Rollback after it ended (which database/sql would have made
		// anyway).
		by = byContext
		if t.c.reset != nil && t.c.valid == nil {
			t.c.bad = true // see conn.IsValid
		}
	}
	return finish(t.res, t.e, by, false, t.watched && ended)
}
