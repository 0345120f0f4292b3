package guardpgx_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// fakeTracer records every call pgx makes on it, and marks the contexts
// it returns so that it can tell its own context came back.
type fakeTracer struct {
	mu    sync.Mutex
	calls []string
	lost  []string // an end whose context is not the one its start returned
}

type fakeKey struct{}

func (f *fakeTracer) note(call string, ctx context.Context, want bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if want && ctx.Value(fakeKey{}) != call[:strings.IndexByte(call, '.')] {
		f.lost = append(f.lost, call)
	}
}

func (f *fakeTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	f.note("query.start "+d.SQL, ctx, false)
	return context.WithValue(ctx, fakeKey{}, "query")
}

func (f *fakeTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	f.note("query.end", ctx, true)
}

func (f *fakeTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	f.note("batch.start", ctx, false)
	return context.WithValue(ctx, fakeKey{}, "batch")
}

func (f *fakeTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchQueryData) {
	f.note("batch.query", ctx, true)
}

func (f *fakeTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	f.note("batch.end", ctx, true)
}

func (f *fakeTracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	f.note("acquire.start", ctx, false)
	return context.WithValue(ctx, fakeKey{}, "acquire")
}

func (f *fakeTracer) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	f.note("acquire.end", ctx, true)
}

func (f *fakeTracer) TraceRelease(_ *pgxpool.Pool, _ pgxpool.TraceReleaseData) {
	f.note("release", context.Background(), false)
}

func (f *fakeTracer) snapshot() (calls, lost []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]string(nil), f.lost...)
}

// TestChainsAfterExistingTracer: a tracer already set (otelpgx, or this
// recording fake) still sees every call, in order, with its own contexts,
// and guardpgx's lifetimes are there too.
func TestChainsAfterExistingTracer(t *testing.T) {
	rec := newRecorder(t)
	fake := &fakeTracer{}
	pool := newPool(t, 2, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = fake })
	ctx := rec.ctx(t)
	rows, err := pool.Query(ctx, "select 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	b := &pgx.Batch{}
	b.Queue("select 2")
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	calls, lost := fake.snapshot()
	want := []string{
		"acquire.start", "acquire.end", "query.start select 1", "query.end", "release",
		"acquire.start", "acquire.end", "batch.start", "batch.query", "batch.end", "release",
		"acquire.start", "acquire.end", "query.start begin", "query.end", "query.start commit", "query.end", "release",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("the tracer already set saw:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if len(lost) > 0 {
		t.Errorf("ends without their start's context: %v", lost)
	}
	for _, name := range []string{guardpgx.SpanRows, guardpgx.SpanBatch, guardpgx.SpanTx} {
		wantEnd(t, rec.one(t, name), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	}
}

// TestConfigureTwice: a second ConfigurePool replaces guardpgx's tracer
// and keeps the one set before.
func TestConfigureTwice(t *testing.T) {
	fake := &fakeTracer{}
	cfg, err := pgxpool.ParseConfig("postgres://app@127.0.0.1:5432/app")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = fake
	guardpgx.ConfigurePool(cfg)
	guardpgx.ConfigurePool(cfg)
	mt, ok := cfg.ConnConfig.Tracer.(*multitracer.Tracer)
	if !ok || len(mt.QueryTracers) != 2 || mt.QueryTracers[0] != fake {
		t.Fatalf("after two ConfigurePool: %#v, want the fake then guardpgx's", cfg.ConnConfig.Tracer)
	}
	if len(mt.PoolAcquireTracers) != 2 || len(mt.PoolReleaseTracers) != 2 || len(mt.BatchTracers) != 2 {
		t.Errorf("acquire %d, release %d, batch %d tracers; want 2 each", len(mt.PoolAcquireTracers), len(mt.PoolReleaseTracers), len(mt.BatchTracers))
	}

	bare, _ := pgx.ParseConfig("postgres://app@127.0.0.1:5432/app")
	guardpgx.ConfigureConn(bare)
	first := bare.Tracer
	guardpgx.ConfigureConn(bare)
	if _, isMulti := bare.Tracer.(*multitracer.Tracer); isMulti || bare.Tracer == first {
		t.Errorf("a second ConfigureConn on a bare config: %T, want guardpgx's new tracer alone", bare.Tracer)
	}
}

// TestConfigureBadInput: a nil config is a programmer error.
func TestConfigureBadInput(t *testing.T) {
	for name, f := range map[string]func(){
		"ConfigurePool(nil)":          func() { guardpgx.ConfigurePool(nil) },
		"ConfigurePool(&Config{})":    func() { guardpgx.ConfigurePool(&pgxpool.Config{}) },
		"ConfigureConn(nil)":          func() { guardpgx.ConfigureConn(nil) },
		"ConfigurePool(cfg, nil opt)": func() { c, _ := pgxpool.ParseConfig(""); guardpgx.ConfigurePool(c, nil) },
	} {
		got := func() (p any) {
			defer func() { p = recover() }()
			f()
			return nil
		}()
		msg, _ := got.(string)
		switch {
		case strings.HasSuffix(name, "nil opt)") && got != nil:
			t.Errorf("%s panicked: %v; a nil Option is ignored", name, got)
		case !strings.HasSuffix(name, "nil opt)") && !strings.HasPrefix(msg, "guardpgx: "):
			t.Errorf("%s: panic %v, want a guardpgx: message", name, got)
		}
	}
}

// fakeT is the part of testing.T that otelguardtest uses, recording what
// it reports, so that a test can see another test fail.
type fakeT struct {
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (f *fakeT) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprint(args...))
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// end runs the cleanups, last first, as a test's end does.
func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// TestOtelguardtestCatchesOpenRows: a test that leaves rows open fails
// under otelguardtest.NewTracker, naming the query's line.
func TestOtelguardtestCatchesOpenRows(t *testing.T) {
	pool := newPool(t, 2, nil)
	ft := &fakeT{}
	rec := otelguardtest.NewTracker(ft)
	rows, err := pool.Query(rec.Context(), "select 1") // left open
	at := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() // should the test fail first
	ft.end()
	rows.Close()
	if len(ft.errors) != 1 {
		t.Fatalf("otelguardtest reported %d errors, want 1: %q", len(ft.errors), ft.errors)
	}
	e := ft.errors[0]
	if !strings.Contains(e, `"db.rows": open`) || !strings.Contains(e, fmt.Sprintf("configure_test.go:%d", at)) {
		t.Errorf("otelguardtest's report does not name the open db.rows at configure_test.go:%d:\n%s", at, e)
	}

	ft = &fakeT{}
	rec = otelguardtest.NewTracker(ft)
	rows, err = pool.Query(rec.Context(), "select 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	ft.end()
	if len(ft.errors) != 0 {
		t.Errorf("otelguardtest reported closed rows: %q", ft.errors)
	}

	// A missed close: rows left open on a connection that is released.
	ft = &fakeT{}
	rec = otelguardtest.NewTracker(ft)
	c, err := pool.Acquire(rec.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(rec.Context(), "select 1"); err != nil {
		c.Release()
		t.Fatal(err)
	}
	at = line() - 4
	c.Release()
	ft.end()
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "db.rows") || !strings.Contains(ft.errors[0], fmt.Sprintf("configure_test.go:%d", at)) {
		t.Errorf("otelguardtest's report of rows released open, want one naming db.rows at configure_test.go:%d: %q", at, ft.errors)
	}
}
