package guardsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// minimal is a driver with nothing but driver.Conn's three methods: no
// context forms, no Queryer or Execer, no ResetSession, no IsValid. Every
// query goes through a statement database/sql prepares for it.
type minimal struct{ closedStmts atomic.Int64 }

type minimalConnector struct{ d *minimal }

func (c minimalConnector) Connect(context.Context) (driver.Conn, error) {
	return &minimalConn{c.d}, nil
}
func (c minimalConnector) Driver() driver.Driver { return c.d }

func (d *minimal) Open(string) (driver.Conn, error) { return &minimalConn{d}, nil }

type minimalConn struct{ d *minimal }

func (c *minimalConn) Prepare(string) (driver.Stmt, error) { return &minimalStmt{c.d}, nil }
func (c *minimalConn) Close() error                        { return nil }
func (c *minimalConn) Begin() (driver.Tx, error)           { return minimalTx{}, nil }

type minimalStmt struct{ d *minimal }

func (s *minimalStmt) Close() error                                   { s.d.closedStmts.Add(1); return nil }
func (s *minimalStmt) NumInput() int                                  { return -1 }
func (s *minimalStmt) Exec([]driver.Value) (driver.Result, error)     { return driver.RowsAffected(1), nil }
func (s *minimalStmt) Query(args []driver.Value) (driver.Rows, error) { return &minimalRows{n: 2}, nil }

type minimalRows struct{ n int }

func (r *minimalRows) Columns() []string { return []string{"x"} }
func (r *minimalRows) Close() error      { return nil }
func (r *minimalRows) Next(dest []driver.Value) error {
	if r.n == 0 {
		return io.EOF
	}
	r.n--
	dest[0] = int64(r.n)
	return nil
}

type minimalTx struct{}

func (minimalTx) Commit() error   { return nil }
func (minimalTx) Rollback() error { return nil }

// TestMinimalDriver: through database/sql's fallbacks, the statements it
// prepares for one call are not watched, their rows are; a DB.Conn on a
// pooled connection of a driver without ResetSession is seen at its first
// call; transactions work through Begin.
func TestMinimalDriver(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	d := &minimal{}
	db := guardsql.OpenDB(minimalConnector{d})
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := rec.Context()
	if _, err := db.ExecContext(ctx, "insert"); err != nil {
		t.Fatal(err)
	}
	var x int
	if err := db.QueryRowContext(ctx, "select").Scan(&x); err != nil || x != 1 {
		t.Fatalf("Scan: %d, %v", x, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err == nil {
		t.Error("a read-only transaction on a driver without BeginTx: no error")
	}
	c, err := db.Conn(ctx) // a pooled connection: no driver call yet
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "update"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range rec.Lifetimes() {
		got[l.Name]++
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	}
	if got["db.rows"] != 1 || got["db.tx"] != 1 || got["db.conn"] != 1 || got["db.stmt"] != 0 {
		t.Errorf("lifetimes %v, want one db.rows, db.tx and db.conn and no db.stmt", got)
	}
	if n := d.closedStmts.Load(); n != 3 {
		t.Errorf("%d statements closed, want the 3 database/sql prepared", n)
	}
	if s := db.Stats(); s.InUse != 0 || s.OpenConnections != 1 {
		t.Errorf("pool: %+v", s)
	}
}

// execerConn is minimalConn with the context-free Exec and Query of
// drivers written before Go 1.8, which guardsql calls itself.
type execerConn struct {
	minimalConn
	calls atomic.Int64
}

func (c *execerConn) Exec(string, []driver.Value) (driver.Result, error) {
	c.calls.Add(1)
	return driver.RowsAffected(1), nil
}

func (c *execerConn) Query(string, []driver.Value) (driver.Rows, error) {
	c.calls.Add(1)
	return &minimalRows{n: 1}, nil
}

type execerConnector struct{ c *execerConn }

func (c execerConnector) Connect(context.Context) (driver.Conn, error) { return c.c, nil }
func (c execerConnector) Driver() driver.Driver                        { return c.c.d }

// TestContextFreeDriverArguments: as database/sql does for such a driver,
// positional arguments reach it, and a named one is an error that never
// reaches it.
func TestContextFreeDriverArguments(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	conn := &execerConn{minimalConn: minimalConn{&minimal{}}}
	db := guardsql.OpenDB(execerConnector{conn})
	defer db.Close()
	ctx := rec.Context()
	if _, err := db.ExecContext(ctx, "insert", 1); err != nil {
		t.Fatal(err)
	}
	var x int
	if err := db.QueryRowContext(ctx, "select", 1).Scan(&x); err != nil || x != 0 {
		t.Fatalf("Scan: %d, %v", x, err)
	}
	if n := conn.calls.Load(); n != 2 {
		t.Fatalf("%d context-free calls, want 2", n)
	}
	for _, call := range []func() error{
		func() error { _, err := db.ExecContext(ctx, "insert", sql.Named("a", 1)); return err },
		func() error { _, err := db.QueryContext(ctx, "select", sql.Named("a", 1)); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "Named Parameters") {
			t.Errorf("a named argument: %v, want the Named Parameters error", err)
		}
	}
	if n := conn.calls.Load(); n != 2 {
		t.Errorf("%d context-free calls, want still 2: a named argument reached the driver", n)
	}
}

// skipConn has the fast paths, and declines them at run time with
// driver.ErrSkip for a query with arguments, as go-sql-driver/mysql does
// without interpolateParams: database/sql then prepares a statement for
// that one call.
type skipConn struct{ minimalConn }

func (c *skipConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		return nil, driver.ErrSkip
	}
	return &minimalRows{n: 1}, nil
}

func (c *skipConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		return nil, driver.ErrSkip
	}
	return driver.RowsAffected(1), nil
}

type skipConnector struct{ d *minimal }

func (c skipConnector) Connect(context.Context) (driver.Conn, error) {
	return &skipConn{minimalConn(c)}, nil
}
func (c skipConnector) Driver() driver.Driver { return c.d }

// TestErrSkipStatementsAreNotWatched: a statement database/sql prepares
// because the driver answered driver.ErrSkip serves one call and is not
// watched (its rows are), on the DB, in a transaction and on a *sql.Conn;
// a statement the code prepares is watched, also right after such a call.
// Told from the ErrSkip itself, not from database/sql's frames.
func TestErrSkipStatementsAreNotWatched(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	d := &minimal{}
	db := guardsql.OpenDB(skipConnector{d})
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := rec.Context()
	oneShot := func(q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) {
		t.Helper()
		if _, err := q.ExecContext(ctx, "insert", 1); err != nil {
			t.Fatal(err)
		}
		var x int
		if err := q.QueryRowContext(ctx, "select", 1).Scan(&x); err != nil {
			t.Fatal(err)
		}
	}
	oneShot(db)
	st, err := db.PrepareContext(ctx, "select")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	oneShot(tx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oneShot(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range rec.Lifetimes() {
		got[l.Name]++
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	}
	if got["db.rows"] != 3 || got["db.stmt"] != 1 || got["db.tx"] != 1 || got["db.conn"] != 1 {
		t.Errorf("lifetimes %v, want 3 db.rows, 1 db.stmt (the one prepared), 1 db.tx, 1 db.conn", got)
	}
	if n := d.closedStmts.Load(); n != 7 {
		t.Errorf("%d statements closed, want 7 (6 for one call, 1 prepared)", n)
	}
}
