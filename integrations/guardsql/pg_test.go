package guardsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

func openPostgres(t *testing.T, opts ...guardsql.Option) *sql.DB {
	t.Helper()
	s := postgres(t)
	db, err := guardsql.Open("pgx", s.DSN, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(2)
	if _, err := db.Exec(`create table if not exists items(id int primary key, name text, disabled bool);
		insert into items values (1, 'one', false), (2, 'two', false), (9, 'nine', true) on conflict do nothing`); err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.Log())
	}
	return db
}

// errDisabled is what lookup returns for a disabled item.
var errDisabled = errors.New("disabled")

// lookup is a handler's query with the bug this package exists for: on
// the early return for a disabled item its rows are never closed.
//
//go:noinline
func lookup(ctx context.Context, db *sql.DB, id int) (string, error) {
	rows, err := db.QueryContext(ctx, "select name, disabled from items where id = $1", id) //otelguard:handoff the bug under test
	if err != nil {
		return "", err
	}
	if !rows.Next() {
		rows.Close()
		return "", sql.ErrNoRows
	}
	var name string
	var disabled bool
	if err := rows.Scan(&name, &disabled); err != nil {
		rows.Close()
		return "", err
	}
	if disabled {
		return "", errDisabled // rows left open: the bug
	}
	return name, rows.Close()
}

// lookupLine is the line of lookup's query.
var lookupLine = lineOf(pgTestFile(), "//otelguard:handoff the bug under test")

// TestPostgresLeakExhaustsPool: a pool of two, handlers whose queries run
// with context.Background (as code that predates contexts does), two
// lookups of a missing id: two connections leaked for good. The next
// request waits for a connection until its deadline; before that, the hold
// threshold names both holders, and leak detection then finds both rows.
func TestPostgresLeakExhaustsPool(t *testing.T) {
	rec := newRecorder(t)
	db := openPostgres(t, guardsql.WithTracker(rec.tr), guardsql.WithHoldThreshold(100*time.Millisecond))
	for range 2 {
		if _, err := lookup(context.Background(), db, 9); !errors.Is(err, errDisabled) {
			t.Fatal(err)
		}
	}
	const requestTimeout = 3 * time.Second
	started := time.Now()
	result := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_, err := lookup(ctx, db, 1)
		result <- err
	}()
	waitFor(t, "two held-too-long warnings", func() bool {
		return strings.Count(rec.log.String(), "lifetime held too long") >= 2
	})
	warned := time.Since(started)
	select {
	case err := <-result:
		t.Fatalf("the third request returned (%v) before the hold threshold named the holders", err)
	default:
	}
	site := fmt.Sprintf("guardsql_test.lookup %s:%d", pgTestFile(), lookupLine)
	if log := rec.log.String(); strings.Count(log, `code.stacktrace.0="github.com/otelguard/otelguard-go/integrations/`+site+`"`) < 2 {
		t.Errorf("the warnings do not both name %s first:\n%s", site, log)
	}
	err := <-result
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the third request: %v, want a deadline error", err)
	}
	t.Logf("hold threshold warned %v into a request that timed out after %v", warned, requestTimeout)
	s := db.Stats()
	t.Logf("pool: %+v", s)
	if s.InUse != 2 || s.WaitCount < 1 {
		t.Errorf("pool: %+v, want 2 in use and a wait", s)
	}
	waitFor(t, "both leaks to be reported", func() bool {
		rec.leaked(t, guardsql.SpanRows)
		return len(rec.exp.Leaks()) == 2
	})
	for _, l := range rec.exp.Leaks() {
		wantEnd(t, l, otelguard.OutcomeLeaked, otelguard.TriggerGC)
		wantSite(t, l, "lookup", lookupLine)
		wantAttr(t, l, "db.system.name", "postgresql")
	}
}

// TestPostgresEarlyReturnWithRequestContext: the same bug with the
// request's context: database/sql closes the rows when the request ends,
// so the pool recovers, and the lifetime says what held the connection.
func TestPostgresEarlyReturnWithRequestContext(t *testing.T) {
	rec := newRecorder(t) // missed closes fail otelguardtest's check
	db := openPostgres(t)
	for range 3 { // more requests than connections: each gets its connection back at its end
		ctx, cancel := context.WithTimeout(rec.Context(), 5*time.Second)
		if _, err := lookup(ctx, db, 9); !errors.Is(err, errDisabled) {
			t.Fatal(err)
		}
		cancel() // the request ends
	}
	waitFor(t, "three db.rows to end", func() bool { return len(rec.Lifetimes()) >= 3 })
	for _, l := range rec.Lifetimes() {
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerCancel)
		wantMissedClose(t, l)
	}
	waitFor(t, "the pool to have its connections back", func() bool { return db.Stats().InUse == 0 })
}

// TestPostgresLifetimes: each kind of lifetime on PostgreSQL, through pgx,
// whose connections have ResetSession but no IsValid.
func TestPostgresLifetimes(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openPostgres(t)
	ctx := rec.Context()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRowContext(ctx, "select count(*) from items").Scan(&n); err != nil || n < 3 {
		t.Fatalf("count: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tx.PrepareContext(ctx, "select name from items where id = $1")
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := st.QueryRowContext(ctx, 1).Scan(&name); err != nil || name != "one" {
		t.Fatalf("name: %q, %v", name, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range rec.Lifetimes() {
		got[l.Name]++
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		wantAttr(t, l, "db.system.name", "postgresql")
	}
	if want := map[string]int{"db.conn": 1, "db.rows": 2, "db.tx": 1, "db.stmt": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lifetimes: %v, want %v", got, want)
	}
}

// TestPostgresCancelledTxDiscardsConn: database/sql discards a connection
// whose transaction it rolled back because the context ended, unless the
// driver has both ResetSession and IsValid; pgx has only ResetSession.
// guardsql always has IsValid (it is how a checkout's end is seen), and
// must keep database/sql's decision: the same pool statistics bare and
// through guardsql.
func TestPostgresCancelledTxDiscardsConn(t *testing.T) {
	s := postgres(t)
	bare, err := sql.Open("pgx", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	guarded := openPostgres(t, guardsql.WithTracker(newRecorder(t).tr))
	run := func(db *sql.DB) sql.DBStats {
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("select 1"); err != nil {
			t.Fatal(err)
		}
		cancel()
		waitFor(t, "the rollback", func() bool { return db.Stats().InUse == 0 })
		return db.Stats()
	}
	b, g := run(bare), run(guarded)
	t.Logf("bare: %+v", b)
	t.Logf("guardsql: %+v", g)
	if b.OpenConnections != g.OpenConnections || b.Idle != g.Idle {
		t.Errorf("after a cancelled transaction: bare %d open, %d idle; guardsql %d open, %d idle",
			b.OpenConnections, b.Idle, g.OpenConnections, g.Idle)
	}
}

// TestPostgresDroppedRowsAreClosedWhenFound: a query still sending rows
// when its *sql.Rows was dropped keeps running on the server, its locks
// held: an ALTER TABLE of its table waits for it. Once leak detection finds
// the rows dropped, guardsql closes them (released=true), the query ends,
// and the ALTER TABLE goes through. The pool's slot is not given back.
func TestPostgresDroppedRowsAreClosedWhenFound(t *testing.T) {
	rec := newRecorder(t)
	db := openPostgres(t, guardsql.WithTracker(rec.tr))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `drop table if exists dropped_rows;
		create table dropped_rows(x int); insert into dropped_rows select generate_series(1, 50000)`); err != nil {
		t.Fatal(err)
	}
	alter := func() error {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "set lock_timeout = '200ms'"); err != nil {
			return err
		}
		_, err = c.ExecContext(ctx, "alter table dropped_rows add column if not exists y int")
		return err
	}
	// 50 MB of rows: more than the socket buffers hold, so the server is
	// still sending when the code drops them.
	rows, err := db.QueryContext(ctx, "select x, repeat('x', 1000) from dropped_rows") //otelguard:handoff dropped below, on purpose
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	if err := alter(); err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("ALTER TABLE while the query still sends rows: %v, want a lock timeout", err)
	}
	runtime.KeepAlive(rows) // dropped from here on

	l := rec.leaked(t, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeLeaked, otelguard.TriggerGC)
	if !l.LeakReleased {
		t.Error("the dropped rows were not closed (released=false)")
	}
	if err := alter(); err != nil {
		t.Errorf("ALTER TABLE after the dropped rows were found: %v", err)
	}
	if s := db.Stats(); s.InUse != 1 {
		t.Errorf("stats %+v, want the dropped rows' connection still in use", s)
	}
}
