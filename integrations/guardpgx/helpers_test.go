package guardpgx_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/internal/pgtest"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The PostgreSQL tests share one server, started by the first that needs
// it and stopped by TestMain.
var pg pgtest.Shared

// postgres returns the shared server. If there is none, pgtest.Missing
// skips t saying why (or fails it under CI=true, where .ci/run installs the
// server); if it did not start, t fails.
func postgres(t testing.TB) *pgtest.Server {
	t.Helper()
	return pg.Get(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// waitTimeout bounds every wait of these tests: what they wait for
// happens in milliseconds, so reaching it means the code is wrong.
const waitTimeout = 20 * time.Second

// waitFor polls cond until it holds, failing the test with what after
// waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder is a Tracker recording into an in-memory exporter, its log
// into a buffer, for tests that leave lifetimes open on purpose
// (otelguardtest.NewTracker fails such a test at its end, as it should).
type recorder struct {
	tr  *otelguard.Tracker
	exp *memory.Exporter
	log *syncBuffer
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	log := &syncBuffer{}
	r := &recorder{
		tr: otelguard.New(
			otelguard.WithTracerProvider(tp),
			otelguard.WithLogger(slog.New(slog.NewTextHandler(log, nil)))),
		exp: exp,
		log: log,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = r.tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return r
}

// ctx is a context that carries the recorder's Tracker.
func (r *recorder) ctx(t testing.TB) context.Context {
	return otelguard.ContextWithTracker(t.Context(), r.tr)
}

// named returns the ended lifetimes named name.
func (r *recorder) named(name string) []memory.Lifetime {
	var out []memory.Lifetime
	for _, l := range r.exp.Lifetimes() {
		if l.Name == name {
			out = append(out, l)
		}
	}
	return out
}

// one returns the only ended lifetime named name, failing t otherwise.
func (r *recorder) one(t testing.TB, name string) memory.Lifetime {
	t.Helper()
	ls := r.named(name)
	if len(ls) != 1 {
		t.Fatalf("%d %s lifetimes ended, want 1: %+v", len(ls), name, r.exp.Lifetimes())
	}
	return ls[0]
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newPool makes a pool of at most maxConns connections to the shared
// server, configured by ConfigurePool with opts, and closes it when the
// test ends. prepare, if not nil, changes the config first (a tracer of
// its own).
func newPool(t testing.TB, maxConns int32, prepare func(*pgxpool.Config), opts ...guardpgx.Option) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(postgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	if prepare != nil {
		prepare(cfg)
	}
	guardpgx.ConfigurePool(cfg, opts...)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePool(t, pool) })
	return pool
}

// closePool closes pool, failing t rather than hanging if a connection is
// never released (Pool.Close waits for every one): a test that failed
// before it released what it held.
func closePool(t testing.TB, pool *pgxpool.Pool) {
	done := make(chan struct{})
	go func() {
		pool.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Errorf("pool.Close still waits after %v: a connection was never released", waitTimeout)
	}
}

// line is the line it is called on.
func line() int {
	_, _, l, _ := runtime.Caller(1)
	return l
}

// site is "file:line" of the test file at line, as stacks name it.
func site(l int) string {
	_, file, _, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", file, l)
}

// attr returns the value of key on l's span, as a string.
func attr(l memory.Lifetime, key string) (string, bool) {
	for _, kv := range l.Span.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func wantAttr(t testing.TB, l memory.Lifetime, key, want string) {
	t.Helper()
	got, ok := attr(l, key)
	if !ok {
		t.Errorf("%s: no %s attribute; attributes: %v", l.Name, key, l.Span.Attributes)
		return
	}
	if got != want {
		t.Errorf("%s: %s = %q, want %q", l.Name, key, got, want)
	}
}

func wantNoAttr(t testing.TB, l memory.Lifetime, key string) {
	t.Helper()
	if got, ok := attr(l, key); ok {
		t.Errorf("%s: %s = %q, want none", l.Name, key, got)
	}
}

func wantEnd(t testing.TB, l memory.Lifetime, o otelguard.Outcome, trig otelguard.Trigger) {
	t.Helper()
	if l.Outcome != o || l.Trigger != trig {
		t.Errorf("%s ended %s (trigger %s), want %s (trigger %s); attributes: %v", l.Name, l.Outcome, l.Trigger, o, trig, l.Span.Attributes)
	}
}

// hasEvent reports whether l's span has an event named name.
func hasEvent(l memory.Lifetime, name string) bool {
	for _, ev := range l.Span.Events {
		if ev.Name == name {
			return true
		}
	}
	return false
}

// names returns the names of ls.
func names(ls []otelguard.LiveLifetime) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

// firstFrame matches a log record whose acquire stack (code.stacktrace,
// as the Tracker's logger writes it) starts in test function fn at line
// of file (its base name: the Tracker trims the directory).
func firstFrame(fn, file string, line int) *regexp.Regexp {
	return regexp.MustCompile(`code\.stacktrace\.0="[^"]*/guardpgx_test\.` + regexp.QuoteMeta(fn) +
		` [^"]*` + regexp.QuoteMeta(fmt.Sprintf("%s:%d", file, line)) + `"`)
}

// logHas reports whether a record of the log has msg and every one of
// subs.
func logHas(log, msg string, subs ...string) bool {
	for _, rec := range strings.Split(log, "\n") {
		if !strings.Contains(rec, msg) {
			continue
		}
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(rec, s)
		}
		if ok {
			return true
		}
	}
	return false
}
