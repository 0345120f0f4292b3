package guardsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// An ending is the value of every lifetime this package starts: the
// driver call that ends it (Rows.Close, Tx.Commit or Tx.Rollback,
// Stmt.Close; nothing for a connection's return to the pool), which only
// database/sql may ask for, under its own lock of the connection.
//
// The lifetime's release runs in one of two places:
//
//   - in the driver method database/sql called, through Resource.Close:
//     the release makes the driver call there, so the span's
//     otelguard.cleanup.duration_ms is the driver's own;
//   - on a goroutine of otelguard's (CloseOnCancel when the lifetime's
//     context ends, Tracker.CloseAll): the release must not touch the
//     driver's rows or transaction, which the caller may be using. It
//     waits, bounded by its context, until database/sql asks for the
//     driver call (the driver method then waits in Resource.Close and the
//     release makes the call for it) or has made it (ask, call).
//
// An ending holds nothing that reaches the handle of its lifetime, so
// leak detection can see the handle go.
type ending struct {
	under driver.Rows // db.rows
	tx    driver.Tx   // db.tx
	stmt  driver.Stmt // db.stmt

	mu     sync.Mutex
	asked  bool // database/sql waits in Resource.Close: the release may make the call
	done   bool // the driver call was made; err is its result
	called bool // the driver call is being (or was) made
	wake   chan struct{}
	commit bool     // db.tx: the call is Commit (else Rollback)
	by     closedBy // who asked (byNone for db.conn and db.stmt)
	err    error
}

// ask records that database/sql asks for the driver call and will wait in
// Resource.Close while a release makes it.
func (e *ending) ask(by closedBy, commit bool) {
	e.mu.Lock()
	e.asked, e.by, e.commit = true, by, commit
	w := e.wake
	e.wake = nil
	e.mu.Unlock()
	if w != nil {
		close(w)
	}
}

// note records who asked, for a call made outside any release (see call).
func (e *ending) note(by closedBy, commit bool) {
	e.mu.Lock()
	e.by, e.commit = by, commit
	e.mu.Unlock()
}

// call makes the driver call, at most once, and wakes a waiting release.
// It returns the call's result (the first call's, to a later one).
func (e *ending) call() error {
	e.mu.Lock()
	if e.called {
		err := e.err
		e.mu.Unlock()
		return err
	}
	e.called = true
	commit := e.commit
	e.mu.Unlock()
	var err error
	switch {
	case e.under != nil:
		err = e.under.Close()
	case e.tx != nil && commit:
		err = e.tx.Commit()
	case e.tx != nil:
		err = e.tx.Rollback()
	case e.stmt != nil:
		err = e.stmt.Close()
	}
	e.mu.Lock()
	e.done, e.err = true, err
	w := e.wake
	e.wake = nil
	e.mu.Unlock()
	if w != nil {
		close(w)
	}
	return err
}

// result returns whether the driver call was made, and its result.
func (e *ending) result() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done, e.err
}

// release is the release of every lifetime this package starts; see
// ending.
func release(ctx context.Context, e *ending) error {
	if trig, _ := otelguard.ReleaseTrigger(ctx); trig == otelguard.TriggerGC {
		return e.closeDropped(ctx)
	}
	e.mu.Lock()
	for !e.asked && !e.done {
		if e.wake == nil {
			e.wake = make(chan struct{})
		}
		w := e.wake
		e.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("guardsql: database/sql has not ended it: %w", context.Cause(ctx))
		}
		e.mu.Lock()
	}
	done := e.done
	e.mu.Unlock()
	var err error
	if done {
		_, err = e.result()
	} else {
		err = e.call() // database/sql waits in Resource.Close for it
	}
	e.annotate(ctx)
	return err
}

// closeDropped is the release of rows that leak detection found dropped
// (otelguard.ReleaseOnLeak, trigger gc), which only rows of a query on the
// DB itself get (conn.begin): it closes the driver's rows, as database/sql
// would have.
//
// It is safe only there. Their *sql.Rows is garbage, so database/sql makes
// no call on them again; and database/sql counts their connection in use
// for good and never hands it out or touches it again (DB.Close leaves a
// connection in use alone), so no other call runs on that connection while
// this one does. Rows of a *sql.Conn (the connection stays the Conn's, and
// its other calls may run at any time), of a transaction (database/sql
// holds them until it ends) or of a prepared statement (the DB holds them
// until they are closed) never get here.
//
// What it gives back is what the rows held in the database — a SQLite
// reader's lock, which blocks every writer until it is released; a
// PostgreSQL query still sending rows, with its snapshot and locks — not
// the pool's slot: database/sql still counts the connection in use.
//
// The driver's Close takes no context and may read what is left of the
// result (pgx does): it runs on a goroutine of its own, and the release
// waits for it only until ctx, bounded by the Tracker's cleanup timeout,
// ends, so that the leak's report is not held up longer.
func (e *ending) closeDropped(ctx context.Context) error {
	if e.under == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- e.call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("guardsql: closing dropped rows goes on after: %w", context.Cause(ctx))
	}
}

// annotate sets the end attributes of the lifetime whose release was
// given ctx, and ends it as a missed close when database/sql ended it
// because a context ended: rows nobody closed, a transaction nobody
// committed or rolled back (closed_by=context), rows nobody closed before
// their transaction ended (closed_by=transaction: database/sql closes
// them when it cancels the transaction's own context at its end).
func (e *ending) annotate(ctx context.Context) {
	e.mu.Lock()
	by, commit := e.by, e.commit
	e.mu.Unlock()
	// Whether the span records or not: a missed close is also counted
	// and logged.
	switch {
	case by == byContext && e.tx != nil:
		missedClose(ctx, missedTx)
	case by == byContext:
		missedClose(ctx, missedRows)
	case by == byTransaction:
		missedClose(ctx, missedRowsTx)
	}
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	var buf [2]attribute.KeyValue
	attrs := buf[:0]
	if by != byNone {
		attrs = append(attrs, closedByAttrs[by])
	}
	if e.tx != nil {
		if commit {
			attrs = append(attrs, txCommitAttr)
		} else {
			attrs = append(attrs, txRollbackAttr)
		}
	}
	if len(attrs) > 0 {
		setEndAttributes(ctx, attrs...)
	}
}
