package guardsql_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"modernc.org/sqlite"
)

func TestConnCheckout(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t)
	db.SetMaxOpenConns(1)
	// The first checkout is the pool's connection (returned by
	// openSQLite's Exec), reset by ResetSession; both paths must start a
	// db.conn, and a plain query none.
	for range 2 {
		c, err := db.Conn(rec.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(rec.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(rec.Context(), "insert into t values (5)"); err != nil {
		t.Fatal(err)
	}
	var conns int
	for _, l := range rec.Lifetimes() {
		if l.Name == guardsql.SpanConn {
			conns++
			wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		}
	}
	if conns != 2 {
		t.Errorf("%d db.conn lifetimes, want 2: %v", conns, rec.Lifetimes())
	}
}

//go:noinline
func forgetConn(db *sql.DB) int {
	_, _ = db.Conn(context.Background()) //otelguard:handoff forgotten on purpose: the DB holds every connection
	return line() - 1
}

// TestForgottenConn: the DB holds every connection it opened (its
// dependency map), so a *sql.Conn the code dropped is never garbage.
// Live and Shutdown name it, with the line that checked it out; a new
// connection (Connect) and a reused one (ResetSession) alike.
func TestForgottenConn(t *testing.T) {
	for _, fresh := range []bool{true, false} {
		name := "reused"
		if fresh {
			name = "fresh"
		}
		t.Run(name, func(t *testing.T) {
			rec := newRecorder(t)
			db, err := guardsql.Open("sqlite", t.TempDir()+"/c.db", guardsql.WithTracker(rec.tr))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if !fresh {
				if err := db.Ping(); err != nil { // opens a connection and returns it
					t.Fatal(err)
				}
			}
			at := forgetConn(db)
			for range 3 {
				runtime.GC()
				if err := rec.tr.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(rec.exp.Leaks()); n != 0 {
				t.Fatalf("%d leaks reported; the DB holds the connection", n)
			}
			if live := rec.tr.Live(); len(live) != 1 || live[0].Name != guardsql.SpanConn {
				t.Fatalf("Live: %+v, want one db.conn", live)
			}
			if err := rec.tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			l := rec.ended(t, guardsql.SpanConn)
			wantEnd(t, l, otelguard.OutcomeOpenAtShutdown, otelguard.TriggerShutdown)
			wantSite(t, l, "forgetConn", at)
		})
	}
}

func TestStmt(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t, guardsql.WithHoldThreshold(time.Nanosecond))
	s, err := db.PrepareContext(rec.Context(), "select x from t where x = ?")
	if err != nil {
		t.Fatal(err)
	}
	var x int
	if err := s.QueryRowContext(rec.Context(), 2).Scan(&x); err != nil || x != 2 {
		t.Fatalf("Scan: %d, %v", x, err)
	}
	tx, err := db.BeginTx(rec.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tx.Prepare("insert into t values (?)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Exec(7); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil { // closes ts
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var stmts int
	for _, l := range rec.Lifetimes() {
		if l.Name != guardsql.SpanStmt {
			continue
		}
		stmts++
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		for _, ev := range l.Span.Events {
			if ev.Name == attrkey.EventHoldExceeded {
				t.Errorf("a db.stmt has a hold threshold event: statements are meant to live long")
			}
		}
	}
	if stmts != 2 {
		t.Errorf("%d db.stmt lifetimes, want 2: %v", stmts, rec.Lifetimes())
	}
}

// TestTrackerChoice: WithTracker wins over the context's Tracker, which
// wins over otelguard.Default().
func TestTrackerChoice(t *testing.T) {
	a := newRecorder(t)
	b := newRecorder(t)
	ctx := otelguard.ContextWithTracker(context.Background(), b.tr)
	for _, tc := range []struct {
		name string
		opts []guardsql.Option
		want *recorder
	}{
		{"WithTracker", []guardsql.Option{guardsql.WithTracker(a.tr)}, a},
		{"context", nil, b},
	} {
		db := openSQLite(t, tc.opts...)
		rows, err := db.QueryContext(ctx, "select x from t")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		tc.want.ended(t, guardsql.SpanRows)
		tc.want.exp.Reset()
		if n := len(a.exp.Lifetimes()) + len(b.exp.Lifetimes()); n != 0 {
			t.Errorf("%s: %d lifetimes in the other Tracker", tc.name, n)
		}
	}
}

// TestCloseAllWaitsForDatabaseSQL: only database/sql may close the rows
// it hands out, so Tracker.CloseAll waits for it, bounded by its context,
// and the rows close normally afterwards.
func TestCloseAllWaitsForDatabaseSQL(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr))
	rows, err := db.Query("select x from t")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := rec.tr.CloseAll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CloseAll: %v, want a deadline error", err)
	}
	l := rec.ended(t, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeTimedOut, otelguard.TriggerShutdown)
	if db.Stats().InUse != 1 {
		t.Errorf("CloseAll gave the connection back: %+v", db.Stats())
	}
	if !rows.Next() {
		t.Fatalf("the rows were touched: %v", rows.Err())
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if s := db.Stats(); s.InUse != 0 {
		t.Errorf("the rows' Close did not give the connection back: %+v", s)
	}
}

// TestOptionalInterfaces: what database/sql learns through the driver's
// optional interfaces is the same through guardsql.
func TestOptionalInterfaces(t *testing.T) {
	bare, err := sql.Open("sqlite", t.TempDir()+"/bare.db")
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if _, err := bare.Exec("create table t(x integer); insert into t values (1), (2), (3)"); err != nil {
		t.Fatal(err)
	}
	guarded := openSQLite(t)
	describe := func(db *sql.DB) string {
		rows, err := db.Query("select x, 'a' as s, 1.5 as f from t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cts, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, ct := range cts {
			n, nok := ct.Nullable()
			l, lok := ct.Length()
			p, s, psok := ct.DecimalSize()
			b.WriteString(ct.Name() + " " + ct.DatabaseTypeName() + " " + ct.ScanType().String() + " " +
				strings.Join([]string{boolStr(n), boolStr(nok), itoa(l), boolStr(lok), itoa(p), itoa(s), boolStr(psok)}, ",") + "\n")
		}
		return b.String()
	}
	if b, g := describe(bare), describe(guarded); b != g {
		t.Errorf("column types differ:\nbare:\n%s\nguardsql:\n%s", b, g)
	}
	var raw any
	c, err := guarded.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Raw(func(dc any) error { raw = guardsql.Unwrap(dc); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.(interface{ Serialize() ([]byte, error) }); !ok {
		t.Errorf("Unwrap gave %T, not modernc.org/sqlite's connection", raw)
	}
	if reflect.TypeOf(guarded.Driver()) != reflect.TypeOf(&sqlite.Driver{}) {
		t.Errorf("DB.Driver is %T, want the driver's own", guarded.Driver())
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
