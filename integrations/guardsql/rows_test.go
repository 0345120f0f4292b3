package guardsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/integrations/guardsql/internal/querytest"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

func TestRowsClosedByCaller(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t)
	rows, err := db.QueryContext(rec.Context(), "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no row")
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	l := lifetimeNamed(t, rec, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantAttr(t, l, string(guardsql.ClosedByKey), guardsql.ClosedByCaller)
	wantAttr(t, l, "db.system.name", "sqlite")
	if v, ok := attr(l, "db.query.text"); ok {
		t.Errorf("db.query.text = %q without WithQueryText", v)
	}
}

func TestRowsReadToTheEnd(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t)
	rows, err := db.QueryContext(rec.Context(), "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if n != 3 || rows.Err() != nil {
		t.Fatalf("read %d rows, err %v; want 3, nil", n, rows.Err())
	}
	l := lifetimeNamed(t, rec, guardsql.SpanRows) // ended before Close
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantAttr(t, l, string(guardsql.ClosedByKey), guardsql.ClosedByIteration)
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.Lifetimes()); got != 1 {
		t.Errorf("%d lifetimes after a second Close, want 1", got)
	}
}

func TestQueryRowScan(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t)
	var x int
	if err := db.QueryRowContext(rec.Context(), "select x from t where x = 2").Scan(&x); err != nil || x != 2 {
		t.Fatalf("Scan: %d, %v", x, err)
	}
	wantAttr(t, lifetimeNamed(t, rec, guardsql.SpanRows), string(guardsql.ClosedByKey), guardsql.ClosedByCaller)
	if err := db.QueryRowContext(rec.Context(), "select x from t where x = 9").Scan(&x); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("Scan of no row: %v", err)
	}
	ls := rec.Lifetimes()
	wantAttr(t, ls[len(ls)-1], string(guardsql.ClosedByKey), guardsql.ClosedByIteration)
}

// TestRowsClosedByContext: rows left open while the query's context
// ends are closed by database/sql; the lifetime says so, as a missed close
// (issue 23: it ended cleaned, and no search for missed closes found it).
// A missed close fails otelguardtest's check: the recorder here is a
// plain one.
func TestRowsClosedByContext(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(rec.Context())
	rows, err := db.QueryContext(ctx, "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no row")
	}
	cancel() // the request ends; the handler forgot rows.Close
	l := lifetimeNamed(t, rec, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerCancel)
	wantMissedClose(t, l)
	waitFor(t, "database/sql to give the connection back", func() bool { return db.Stats().InUse == 0 })
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRowsClosedByCallerAfterContext: a Close after the context ended
// (racing database/sql's own) is reported with trigger cancel too: the
// context ended first. It is a missed close: the driver cannot tell the
// caller's Close from database/sql's, which may have come first.
func TestRowsClosedAfterContext(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(rec.Context())
	rows, err := db.QueryContext(ctx, "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	rows.Close()
	l := lifetimeNamed(t, rec, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerCancel)
	wantMissedClose(t, l)
}

// TestRowsInTransactionClosedAtCommit: rows still open when their
// transaction commits are closed by database/sql: a missed close.
func TestRowsInTransactionClosedAtCommit(t *testing.T) {
	rec := newRecorder(t) // a missed close fails otelguardtest's check
	db := openSQLite(t)
	tx, err := db.BeginTx(rec.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query("select x from t") // context.Background: the transaction's context rules
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no row")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	l := lifetimeNamed(t, rec, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantAttr(t, l, string(guardsql.ClosedByKey), guardsql.ClosedByTransaction)
	if v, _ := attr(l, "otelguard.missed_close"); v != "true" {
		t.Errorf("otelguard.missed_close = %q, want true", v)
	}
	wantAttr(t, lifetimeNamed(t, rec, guardsql.SpanTx), string(guardsql.TxResultKey), guardsql.TxCommit)
}

// The leak tests drop rows whose query's context can never end: nothing
// in database/sql will close them, and leak detection finds them. Each
// function returns the line of its query call, which must be the first
// frame of the report.

//go:noinline
func leakQuery(db *sql.DB) int {
	_, _ = db.Query("select x from t") //otelguard:handoff leaked on purpose: the test wants the leak report
	return line() - 1
}

//go:noinline
func leakQueryContext(db *sql.DB) int {
	_, _ = db.QueryContext(context.Background(), "select x from t") //otelguard:handoff leaked on purpose
	return line() - 1
}

//go:noinline
func leakQueryRow(db *sql.DB) int {
	_ = db.QueryRow("select x from t") // a *sql.Row never scanned holds its rows
	return line() - 1
}

//go:noinline
func leakStmtQuery(db *sql.DB, s *sql.Stmt) int {
	_, _ = s.Query() //otelguard:handoff leaked on purpose
	return line() - 1
}

//go:noinline
func leakConnQuery(c *sql.Conn) int {
	_, _ = c.QueryContext(context.Background(), "select x from t") //otelguard:handoff leaked on purpose
	return line() - 1
}

func TestRowsLeakNamesTheQuery(t *testing.T) {
	cases := []struct {
		name string
		fn   string
		leak func(t *testing.T, db *sql.DB) int
	}{
		{"DB.Query", "leakQuery", func(t *testing.T, db *sql.DB) int { return leakQuery(db) }},
		{"DB.QueryContext", "leakQueryContext", func(t *testing.T, db *sql.DB) int { return leakQueryContext(db) }},
		{"DB.QueryRow", "leakQueryRow", func(t *testing.T, db *sql.DB) int { return leakQueryRow(db) }},
		{"Conn.QueryContext", "leakConnQuery", func(t *testing.T, db *sql.DB) int {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// Not closed: the leaked rows hold the *sql.Conn's lock
			// forever, and Conn.Close waits for it.
			return leakConnQuery(c)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			db := openSQLite(t, guardsql.WithTracker(rec.tr))
			at := tc.leak(t, db)
			l := rec.leaked(t, guardsql.SpanRows)
			wantEnd(t, l, otelguard.OutcomeLeaked, otelguard.TriggerGC)
			wantSite(t, l, tc.fn, at)
		})
	}
}

// TestStmtRowsAreHeldByDatabaseSQL: database/sql keeps the rows of a
// prepared statement's query in the DB's dependency map until they are
// closed, so dropping them is not a leak the collector can find: Live
// names them, with the user's line first.
func TestStmtRowsAreHeldByDatabaseSQL(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr))
	s, err := db.Prepare("select x from t")
	if err != nil {
		t.Fatal(err)
	}
	at := leakStmtQuery(db, s)
	for range 3 {
		runtime.GC()
		if err := rec.tr.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rec.exp.Leaks()); n != 0 {
		t.Fatalf("%d leaks reported; database/sql holds the rows", n)
	}
	var found bool
	for _, l := range rec.tr.Live() {
		if l.Name == guardsql.SpanRows {
			found = true
			if want := fmt.Sprintf("guardsql_test.leakStmtQuery(...)\n\t%s:%d", thisFile(), at); !strings.HasPrefix(l.Stack, "github.com/otelguard/otelguard-go/integrations/"+want) {
				t.Errorf("live db.rows stack starts\n%s\nwant it to start at leakStmtQuery, line %d", l.Stack, at)
			}
		}
	}
	if !found {
		t.Fatal("no db.rows in Live")
	}
}

func TestQueryText(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t, guardsql.WithQueryText(), guardsql.WithSystemName("custom"))
	rows, err := db.QueryContext(rec.Context(), "select x from t where x > ?", 1)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	l := lifetimeNamed(t, rec, guardsql.SpanRows)
	wantAttr(t, l, "db.query.text", "select x from t where x > ?")
	wantAttr(t, l, "db.system.name", "custom")
}

// lifetimeNamed returns the first ended lifetime of rec named name,
// waiting for it.
func lifetimeNamed(t *testing.T, rec interface{ Lifetimes() []memoryLifetime }, name string) (l memoryLifetime) {
	t.Helper()
	waitFor(t, "a "+name+" lifetime to end", func() bool {
		for _, x := range rec.Lifetimes() {
			if x.Name == name {
				l = x
				return true
			}
		}
		return false
	})
	return l
}

//go:noinline
func queryThroughLibrary(t *testing.T, db *sql.DB) *sql.Rows {
	rows, err := querytest.All(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCallerSkipPackages: a query made through a library's function
// starts its stack in the library, the first frame outside database/sql
// and guardsql, unless WithCallerSkipPackages names the library: then at
// the code that called it.
func TestCallerSkipPackages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []guardsql.Option
		first string
	}{
		{"library not named", nil, querytest.Path + ".All(...)"},
		{"library named", []guardsql.Option{guardsql.WithCallerSkipPackages(querytest.Path)},
			"github.com/otelguard/otelguard-go/integrations/guardsql_test.queryThroughLibrary(...)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			db := openSQLite(t, append(tc.opts, guardsql.WithTracker(rec.tr))...)
			rows := queryThroughLibrary(t, db)
			defer rows.Close()
			live := rec.tr.Live()
			if len(live) != 1 || live[0].Name != guardsql.SpanRows {
				t.Fatalf("live: %v, want one db.rows", live)
			}
			if stack := live[0].Stack; !strings.HasPrefix(stack, tc.first+"\n") {
				t.Errorf("db.rows stack starts\n%s\nwant %s", stack, tc.first)
			}
			if stack := live[0].Stack; !strings.Contains(stack, "guardsql_test.queryThroughLibrary(...)") {
				t.Errorf("db.rows stack lacks the library's caller:\n%s", stack)
			}
		})
	}
}
