package guardsql_test

// The detection matrix (issue 23): for each way code can hold rows or a
// transaction, with each kind of context, on SQLite and on PostgreSQL, a
// forgotten one is found — as a leak (leaked_without_close, trigger gc)
// or as a missed close (otelguard.missed_close=true: closed by
// database/sql because a context ended, or open at Shutdown) — with the
// acquire stack naming the line of this file that acquired it, within the
// bound of its kind; and one closed as it should be is never reported.
// Each forgotten handle that can be collected is proven collectable: a
// runtime cleanup on the *sql.Rows, *sql.Row or *sql.Tx runs. The cells
// that the collector cannot find (database/sql holds the handle) are the
// "shutdown" ones: found only by Shutdown, the hold threshold and the live
// view; doc.go and docs/guardsql.md list them, with why.

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// How a forgotten handle is found.
type finding string

const (
	byLeak     finding = "leak"        // leak detection: leaked_without_close at the next collection
	byContext  finding = "context"     // database/sql closes it when its context ends: a missed close
	byTxEnd    finding = "transaction" // database/sql closes it when its transaction ends: a missed close
	byShutdown finding = "shutdown"    // never garbage: open until Shutdown (open_at_shutdown, a missed close)
	notApplies finding = ""            // the method takes no context
)

// The contexts a handle is acquired with.
const (
	colBackground = iota // context.Background (the DB's Tracker: WithTracker)
	colRequest           // a request's context, cancelled after the code forgot the handle
	colTest              // otelguardtest's rec.Context(), from t.Context(): cancelled before the cleanups
)

var columnNames = [...]string{"background", "request ctx", "t.Context"}

// matrixCollections bounds the collections a leak cell may take, and
// those that prove a handle collectable.
const matrixCollections = 2

// A holding is one way code holds rows or a transaction. forget acquires
// and forgets it, returning the line of the acquiring call and a channel
// closed when the handle the code held is collected; close acquires and
// closes it as it should.
type holding struct {
	name   string
	span   string
	expect [3]finding
	forget func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{})
	close  func(t *testing.T, db *sql.DB, ctx context.Context, q string)
}

// collected returns a channel closed when p is collected.
func collected[T any](p *T) <-chan struct{} {
	ch := make(chan struct{})
	runtime.AddCleanup(p, func(ch chan struct{}) { close(ch) }, ch)
	return ch
}

// must returns a function that returns v, failing t if err is not nil:
// must[*sql.Rows](t)(db.QueryContext(ctx, q)).
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func readAll(t *testing.T, rows *sql.Rows) {
	t.Helper()
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
}

var holdings = []holding{
	{
		name: "rows QueryContext", span: guardsql.SpanRows,
		expect: [3]finding{byLeak, byContext, byContext},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			at := line() + 1
			rows := must[*sql.Rows](t)(db.QueryContext(ctx, q))
			rows.Next()
			return at, collected(rows)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			readAll(t, must[*sql.Rows](t)(db.QueryContext(ctx, q)))
		},
	},
	{
		name: "rows Query", span: guardsql.SpanRows,
		expect: [3]finding{byLeak, notApplies, notApplies},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			at := line() + 1
			rows := must[*sql.Rows](t)(db.Query(q))
			rows.Next()
			return at, collected(rows)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			readAll(t, must[*sql.Rows](t)(db.Query(q)))
		},
	},
	{
		name: "QueryRow never scanned", span: guardsql.SpanRows,
		expect: [3]finding{byLeak, byContext, byContext},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			at := line() + 1
			row := db.QueryRowContext(ctx, q)
			return at, collected(row)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			var x int
			if err := db.QueryRowContext(ctx, q).Scan(&x); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "rows Stmt.Query", span: guardsql.SpanRows,
		expect: [3]finding{byShutdown, byContext, byContext},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			st := must[*sql.Stmt](t)(db.PrepareContext(ctx, q))
			t.Cleanup(func() { st.Close() })
			at := line() + 1
			rows := must[*sql.Rows](t)(st.QueryContext(ctx))
			rows.Next()
			return at, collected(rows)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			st := must[*sql.Stmt](t)(db.PrepareContext(ctx, q))
			readAll(t, must[*sql.Rows](t)(st.QueryContext(ctx)))
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "rows Tx.Query", span: guardsql.SpanRows,
		expect: [3]finding{byTxEnd, byTxEnd, byTxEnd},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			tx := must[*sql.Tx](t)(db.BeginTx(ctx, nil))
			at := line() + 1
			rows := must[*sql.Rows](t)(tx.Query(q))
			rows.Next()
			if err := tx.Commit(); err != nil { // the rows forgotten, the transaction committed
				t.Fatal(err)
			}
			return at, collected(rows)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			tx := must[*sql.Tx](t)(db.BeginTx(ctx, nil))
			readAll(t, must[*sql.Rows](t)(tx.Query(q)))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "rows Conn.QueryContext", span: guardsql.SpanRows,
		expect: [3]finding{byLeak, byContext, byContext},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			c := must[*sql.Conn](t)(db.Conn(ctx)) // dropped too: Close would wait for the rows for good
			at := line() + 1
			rows := must[*sql.Rows](t)(c.QueryContext(ctx, q))
			rows.Next()
			return at, collected(rows)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			c := must[*sql.Conn](t)(db.Conn(ctx))
			readAll(t, must[*sql.Rows](t)(c.QueryContext(ctx, q)))
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "tx BeginTx", span: guardsql.SpanTx,
		expect: [3]finding{byShutdown, byContext, byContext},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			at := line() + 1
			tx := must[*sql.Tx](t)(db.BeginTx(ctx, nil))
			readAll(t, must[*sql.Rows](t)(tx.Query(q)))
			return at, collected(tx)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			tx := must[*sql.Tx](t)(db.BeginTx(ctx, nil))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "tx Begin", span: guardsql.SpanTx,
		expect: [3]finding{byShutdown, notApplies, notApplies},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			at := line() + 1
			tx := must[*sql.Tx](t)(db.Begin())
			return at, collected(tx)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			tx := must[*sql.Tx](t)(db.Begin())
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "tx Conn.BeginTx", span: guardsql.SpanTx,
		expect: [3]finding{byShutdown, byContext, byContext},
		forget: func(t *testing.T, db *sql.DB, ctx context.Context, q string) (int, <-chan struct{}) {
			c := must[*sql.Conn](t)(db.Conn(ctx))
			at := line() + 1
			tx := must[*sql.Tx](t)(c.BeginTx(ctx, nil))
			return at, collected(tx)
		},
		close: func(t *testing.T, db *sql.DB, ctx context.Context, q string) {
			c := must[*sql.Conn](t)(db.Conn(ctx))
			tx := must[*sql.Tx](t)(c.BeginTx(ctx, nil))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// A matrixDB is a database the matrix runs on.
type matrixDB struct {
	name  string
	open  func(t *testing.T, opts ...guardsql.Option) *sql.DB
	query string
}

var matrixDBs = []matrixDB{
	{"sqlite", func(t *testing.T, opts ...guardsql.Option) *sql.DB { return openSQLite(t, opts...) }, "select x from t"},
	{"postgres", openPostgres, "select id from items"},
}

// fakeT is the testing.TB an otelguardtest Recorder is given in the
// t.Context column: like the testing package, end cancels its Context
// before it runs the cleanups, last registered first.
type fakeT struct {
	mu       sync.Mutex
	ctx      context.Context
	cancel   context.CancelFunc
	cleanups []func()
	errs     []string
}

func newFakeT() *fakeT {
	ctx, cancel := context.WithCancel(context.Background())
	return &fakeT{ctx: ctx, cancel: cancel}
}

func (f *fakeT) Context() context.Context { return f.ctx }
func (f *fakeT) Helper()                  {}
func (f *fakeT) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprint(args...))
}
func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// end is the end of the fake test: its context is cancelled, then its
// cleanups run (otelguardtest's check among them).
func (f *fakeT) end() []string {
	f.cancel()
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs
}

// A cell is one run: where the lifetimes go, the context, and how the
// request or test ends.
type cell struct {
	db       *sql.DB
	ctx      context.Context
	tracker  *otelguard.Tracker
	exp      *memory.Exporter
	end      func() []string // the request or test ends; errors otelguardtest reported
	isTestCx bool
}

func newCell(t *testing.T, mdb matrixDB, col int) *cell {
	t.Helper()
	c := &cell{end: func() []string { return nil }}
	switch col {
	case colBackground, colRequest:
		rec := newRecorder(t)
		c.tracker, c.exp = rec.tr, rec.exp
		c.db = mdb.open(t, guardsql.WithTracker(rec.tr))
		c.ctx = context.Background()
		if col == colRequest {
			ctx, cancel := context.WithCancel(context.Background())
			c.ctx, c.end = ctx, func() []string { cancel(); return nil }
		}
	case colTest:
		ft := newFakeT()
		rec := otelguardtest.NewTracker(ft)
		c.tracker, c.exp = rec.Tracker, rec.Exporter
		c.db = mdb.open(t) // the context's Tracker, as a test's code would have it
		c.ctx, c.end, c.isTestCx = rec.Context(), ft.end, true
	}
	return c
}

// named returns the lifetimes of exp named span.
func named(exp *memory.Exporter, span string) []memory.Lifetime {
	var out []memory.Lifetime
	for _, l := range exp.Lifetimes() {
		if l.Name == span {
			out = append(out, l)
		}
	}
	return out
}

func isMissedClose(l memory.Lifetime) bool {
	v, _ := attr(l, "otelguard.missed_close")
	return v == "true" || l.Outcome == otelguard.OutcomeOpenAtShutdown
}

// awaitCollected forces collections until ch is closed, failing after
// matrixCollections of them.
func awaitCollected(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	for range matrixCollections {
		runtime.GC()
		select {
		case <-ch:
			return
		case <-time.After(time.Second): // the runtime's cleanup goroutine runs it
		}
	}
	t.Errorf("the forgotten handle was not collected after %d collections", matrixCollections)
}

func TestMatrix(t *testing.T) {
	for _, mdb := range matrixDBs {
		t.Run(mdb.name, func(t *testing.T) {
			if mdb.name == "postgres" {
				postgres(t) // skips without PostgreSQL
			}
			for _, h := range holdings {
				for col, want := range h.expect {
					if want == notApplies {
						continue
					}
					t.Run(h.name+"/"+columnNames[col]+"/forgotten", func(t *testing.T) {
						forgotten(t, mdb, h, col, want)
					})
					t.Run(h.name+"/"+columnNames[col]+"/closed", func(t *testing.T) {
						closed(t, mdb, h, col)
					})
				}
			}
		})
	}
}

// forgotten runs one cell whose handle the code forgets.
func forgotten(t *testing.T, mdb matrixDB, h holding, col int, want finding) {
	c := newCell(t, mdb, col)
	at, gone := h.forget(t, c.db, c.ctx, mdb.query)
	site := fmt.Sprintf("matrix_test.go:%d", at)
	var l memory.Lifetime
	switch want {
	case byLeak:
		var found bool
		for gc := 1; gc <= matrixCollections && !found; gc++ {
			runtime.GC()
			deadline := time.Now().Add(2 * time.Second)
			for !found && time.Now().Before(deadline) {
				flushed(t, c.tracker)
				for _, x := range c.exp.Leaks() {
					if x.Name == h.span {
						l, found = x, true
					}
				}
				if !found {
					time.Sleep(time.Millisecond)
				}
			}
		}
		if !found {
			t.Fatalf("no %s leak found after %d collections", h.span, matrixCollections)
		}
		wantEnd(t, l, otelguard.OutcomeLeaked, otelguard.TriggerGC)
		awaitCollected(t, gone)
	case byContext, byTxEnd:
		errs := c.end()
		waitFor(t, "the forgotten "+h.span+" to end", func() bool { return len(named(c.exp, h.span)) > 0 })
		l = named(c.exp, h.span)[0]
		if !isMissedClose(l) {
			t.Errorf("%s ended %s, not a missed close; attributes %v", l.Name, l.Outcome, l.Span.Attributes)
		}
		if l.Outcome != otelguard.OutcomeOpenAtShutdown { // t.Context: otelguardtest's Shutdown may come first
			by := guardsql.ClosedByContext
			if want == byTxEnd {
				by = guardsql.ClosedByTransaction
			}
			wantAttr(t, l, string(guardsql.ClosedByKey), by)
		}
		if c.isTestCx {
			if !strings.Contains(strings.Join(errs, "\n"), h.span) {
				t.Errorf("otelguardtest passed a test that forgot its %s: %q", h.span, errs)
			}
		}
		awaitCollected(t, gone)
	case byShutdown:
		for range matrixCollections {
			runtime.GC()
		}
		flushed(t, c.tracker)
		if leaks := c.exp.Leaks(); len(leaks) != 0 {
			t.Errorf("found leaked, yet the matrix says it cannot be: %v", leaks)
		}
		var open bool
		for _, lv := range c.tracker.Live() {
			open = open || lv.Name == h.span
		}
		if !open {
			t.Fatalf("the forgotten %s is not open", h.span)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = c.tracker.Shutdown(ctx)
		ls := named(c.exp, h.span)
		if len(ls) == 0 {
			t.Fatalf("no %s ended at Shutdown", h.span)
		}
		l = ls[0]
		wantEnd(t, l, otelguard.OutcomeOpenAtShutdown, otelguard.TriggerShutdown)
	}
	if !strings.Contains(l.AcquireStack, site) {
		t.Errorf("%s (%s %s): the acquire stack does not name %s:\n%s", l.Name, l.Outcome, l.ErrorType, site, l.AcquireStack)
	}
}

// closed runs one cell whose handle the code closes: nothing is reported.
func closed(t *testing.T, mdb matrixDB, h holding, col int) {
	c := newCell(t, mdb, col)
	h.close(t, c.db, c.ctx, mdb.query)
	for range matrixCollections {
		runtime.GC()
	}
	flushed(t, c.tracker)
	live := 0
	for _, lv := range c.tracker.Live() {
		if lv.Name == h.span {
			live++
		}
	}
	if live != 0 {
		t.Errorf("%d %s left open", live, h.span)
	}
	errs := c.end()
	if len(errs) != 0 {
		t.Errorf("otelguardtest reported: %v", errs)
	}
	for _, l := range c.exp.Lifetimes() {
		if l.Outcome != otelguard.OutcomeCleaned || isMissedClose(l) {
			t.Errorf("%s ended %s (missed close %v); attributes %v", l.Name, l.Outcome, isMissedClose(l), l.Span.Attributes)
		}
	}
	if len(named(c.exp, h.span)) == 0 {
		t.Errorf("no %s lifetime", h.span)
	}
}

func flushed(t *testing.T, tr *otelguard.Tracker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
