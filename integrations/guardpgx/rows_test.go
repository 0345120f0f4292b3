package guardpgx_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

const rowsFile = "rows_test.go"

// TestRowsDroppedInRequest: rows of a Pool.Query that a handler forgets
// to close are reported when its Request ends, naming the query's line.
func TestRowsDroppedInRequest(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t), attribute.String("http.route", "/items"))
	rows, err := pool.Query(ctx, "select generate_series(1, 3)") // the leak
	at := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() // should the test fail first
	out := req.End()
	if !slices.Equal(names(out), []string{guardpgx.SpanRows}) {
		t.Fatalf("Request.End: %v, want [db.rows]", names(out))
	}
	if re := firstFrame("TestRowsDroppedInRequest", rowsFile, at); !re.MatchString(rec.log.String()) {
		t.Errorf("no outlived record whose stack starts at %s:%d (%s); log:\n%s", rowsFile, at, re, rec.log)
	}
	rows.Close()
	l := rec.one(t, guardpgx.SpanRows)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantAttr(t, l, "db.system.name", "postgresql")
	wantAttr(t, l, string(guardpgx.ClosedByKey), guardpgx.ClosedByCaller)
	wantNoAttr(t, l, "db.query.text")
	if !hasEvent(l, "otelguard.request.outlived") {
		t.Errorf("no otelguard.request.outlived event: %v", l.Span.Events)
	}
}

// TestRowsClosedNeverReported: rows read to the end, closed by hand, or
// read by CollectRows are not reported, and end cleaned.
func TestRowsClosedNeverReported(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil, guardpgx.WithQueryText())
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t))

	rows, err := pool.Query(ctx, "select generate_series(1, 3)")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() { // pgx closes the rows when Next returns false
	}
	rows, err = pool.Query(ctx, "select 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = pool.Query(ctx, "select generate_series(1, 5)")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil || len(n) != 5 {
		t.Fatalf("CollectRows: %v, %v", n, err)
	}
	if out := req.End(); len(out) != 0 {
		t.Fatalf("Request.End reported %v", names(out))
	}
	ls := rec.named(guardpgx.SpanRows)
	if len(ls) != 3 {
		t.Fatalf("%d db.rows ended, want 3", len(ls))
	}
	for _, l := range ls {
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		if hasEvent(l, "otelguard.request.outlived") {
			t.Errorf("closed rows reported as outliving the request")
		}
	}
	wantAttr(t, ls[1], "db.query.text", "select 1")
	if logHas(rec.log.String(), "level=WARN") {
		t.Errorf("warnings logged:\n%s", rec.log)
	}
}

// TestQueryRow: a QueryRow scanned ends its rows; one never scanned holds
// its connection, and is reported when the Request ends.
func TestQueryRow(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t))
	var n int
	if err := pool.QueryRow(ctx, "select 42").Scan(&n); err != nil || n != 42 {
		t.Fatalf("Scan: %d, %v", n, err)
	}
	row := pool.QueryRow(ctx, "select 43") // never scanned
	at := line() - 1
	defer func() { _ = row.Scan(new(int)) }() // should the test fail first
	out := req.End()
	if !slices.Equal(names(out), []string{guardpgx.SpanRows}) {
		t.Fatalf("Request.End: %v, want the unscanned row's db.rows", names(out))
	}
	if re := firstFrame("TestQueryRow", rowsFile, at); !re.MatchString(rec.log.String()) {
		t.Errorf("no record whose stack starts at %s:%d; log:\n%s", rowsFile, at, rec.log)
	}
	if s := pool.Stat(); s.AcquiredConns() != 1 {
		t.Errorf("AcquiredConns = %d, want 1: the unscanned row holds its connection", s.AcquiredConns())
	}
	_ = row.Scan(&n) // let it go
	ls := rec.named(guardpgx.SpanRows)
	if len(ls) != 2 {
		t.Fatalf("%d db.rows ended, want 2", len(ls))
	}
	if hasEvent(ls[0], "otelguard.request.outlived") || !hasEvent(ls[1], "otelguard.request.outlived") {
		t.Errorf("outlived events: scanned %v, unscanned %v", ls[0].Span.Events, ls[1].Span.Events)
	}
}

// TestRowsOnConnReleasedOpen: rows left open on a checked-out connection
// that is released make pgxpool close the connection; they end as a
// missed close, closed_by=release.
func TestRowsOnConnReleasedOpen(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx := rec.ctx(t)
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, "select generate_series(1, 3)"); err != nil {
		t.Fatal(err)
	}
	at := line() - 3
	c.Release() // the rows are the released connection's: pgxpool destroys it
	l := rec.one(t, guardpgx.SpanRows)
	wantAttr(t, l, string(guardpgx.ClosedByKey), guardpgx.ClosedByRelease)
	wantAttr(t, l, "otelguard.missed_close", "true")
	if l.Span.Status.Code.String() != "Error" || !strings.Contains(l.Span.Status.Description, "released with the db.rows still open") {
		t.Errorf("status %v, want Error saying what ended it", l.Span.Status)
	}
	if f, ok := l.AcquireSite(); !ok || !strings.HasSuffix(f.Function, "guardpgx_test.TestRowsOnConnReleasedOpen") || f.Line != at {
		t.Errorf("acquire site %v, want TestRowsOnConnReleasedOpen at line %d; stack:\n%s", f, at, l.AcquireStack)
	}
	conn := rec.one(t, guardpgx.SpanConn)
	wantEnd(t, conn, otelguard.OutcomeCleaned, otelguard.TriggerClose)
}

// TestRowsHeldPastThreshold: rows held past the hold threshold are
// reported while still open, naming the query's line.
func TestRowsHeldPastThreshold(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil, guardpgx.WithHoldThreshold(20*time.Millisecond))
	rows, err := pool.Query(rec.ctx(t), "select 1")
	at := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() // should the test fail first
	re := firstFrame("TestRowsHeldPastThreshold", rowsFile, at)
	waitFor(t, "the held-too-long record", func() bool { return re.MatchString(rec.log.String()) })
	rows.Close()
	l := rec.one(t, guardpgx.SpanRows)
	if !hasEvent(l, "otelguard.hold.threshold_exceeded") {
		t.Errorf("no threshold event: %v", l.Span.Events)
	}
}

// TestBatch: SendBatch results closed end their db.batch; results left
// open are reported when the Request ends.
func TestBatch(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t))
	b := &pgx.Batch{}
	b.Queue("select 1")
	b.Queue("select 2")
	br := pool.SendBatch(ctx, b)
	var n int
	if err := br.QueryRow().Scan(&n); err != nil || n != 1 {
		t.Fatalf("batch row: %d, %v", n, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := &pgx.Batch{}
	b2.Queue("select 3")
	open := pool.SendBatch(ctx, b2) // never closed
	at := line() - 1
	defer open.Close() // should the test fail first
	out := req.End()
	if !slices.Equal(names(out), []string{guardpgx.SpanBatch}) {
		t.Fatalf("Request.End: %v, want [db.batch]", names(out))
	}
	if re := firstFrame("TestBatch", rowsFile, at); !re.MatchString(rec.log.String()) {
		t.Errorf("no record whose stack starts at %s:%d; log:\n%s", rowsFile, at, rec.log)
	}
	if err := open.Close(); err != nil {
		t.Fatal(err)
	}
	ls := rec.named(guardpgx.SpanBatch)
	if len(ls) != 2 {
		t.Fatalf("%d db.batch ended, want 2", len(ls))
	}
	for _, l := range ls {
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	}
	if n := len(rec.named(guardpgx.SpanRows)); n != 0 {
		t.Errorf("%d db.rows for a batch's rows, want 0: they are the batch's", n)
	}
}

// TestExecAndCopyFromHoldNothing: Exec and CopyFrom return with nothing
// held, and start no lifetime.
func TestExecAndCopyFromHoldNothing(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx := rec.ctx(t)
	if _, err := pool.Exec(ctx, "create temp table if not exists t(x int)"); err != nil {
		t.Fatal(err)
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "create temp table c(x int)"); err != nil {
		t.Fatal(err)
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"c"}, []string{"x"}, pgx.CopyFromRows([][]any{{1}, {2}}))
	if err != nil || n != 2 {
		t.Fatalf("CopyFrom: %d, %v", n, err)
	}
	for _, l := range rec.exp.Lifetimes() {
		t.Errorf("lifetime %s ended; Exec and CopyFrom hold nothing", l.Name)
	}
}
