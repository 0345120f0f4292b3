package guardsql_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
)

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	return err != nil && strings.Contains(err.Error(), "SQLITE_BUSY")
}

// A SQLite reader left open holds its lock on the database file, and every
// writer fails with SQLITE_BUSY, on any connection of the pool, for as
// long as the rows are open. Rows of a query on the DB itself that were
// dropped unclosed are closed when leak detection finds them
// (otelguard.ReleaseOnLeak, released=true): writes succeed again. The
// pool's slot is not given back: database/sql counts the connection in
// use for good.
func TestDroppedRowsAreClosedWhenFound(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr))
	db.SetMaxOpenConns(2)
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "select x from t") //otelguard:handoff dropped below, on purpose
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	if _, err := db.ExecContext(ctx, "insert into t values (4)"); !isBusy(err) {
		t.Fatalf("a write while a reader is open: %v, want SQLITE_BUSY", err)
	}
	runtime.KeepAlive(rows) // dropped from here on

	l := rec.leaked(t, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeLeaked, otelguard.TriggerGC)
	if !l.LeakReleased {
		t.Error("the dropped rows were not closed (released=false)")
	}
	if _, err := db.ExecContext(ctx, "insert into t values (4)"); err != nil {
		t.Errorf("a write after the dropped reader was found: %v", err)
	}
	if s := db.Stats(); s.InUse != 1 {
		t.Errorf("stats %+v, want the dropped rows' connection still in use", s)
	}
}

// Rows of a *sql.Conn that were dropped unclosed are reported, not closed:
// the connection is still the Conn's, whose other calls may run at any
// time, and only database/sql may make a driver call on it then.
func TestDroppedConnRowsAreNotClosed(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr))
	db.SetMaxOpenConns(2)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Not closed: the dropped rows hold the *sql.Conn's lock forever, and
	// Conn.Close would wait for it.
	rows, err := c.QueryContext(ctx, "select x from t") //otelguard:handoff dropped below, on purpose
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	runtime.KeepAlive(rows)

	l := rec.leaked(t, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeLeaked, otelguard.TriggerGC)
	if l.LeakReleased {
		t.Error("rows of a *sql.Conn were closed by leak detection (released=true)")
	}
	if _, err := db.ExecContext(ctx, "insert into t values (4)"); !isBusy(err) {
		t.Errorf("a write after the Conn's dropped reader was found: %v, want SQLITE_BUSY (the rows left open)", err)
	}
	if err := c.PingContext(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("the Conn after its rows were found dropped: %v", err)
	}
}
