package guardsql_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	_ "modernc.org/sqlite"
)

// waitTimeout bounds every wait of these tests: what they wait for
// happens in microseconds, so reaching it means the code is wrong.
const waitTimeout = 10 * time.Second

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

// recorder is a Tracker recording into an in-memory exporter, for tests
// that leave lifetimes leaked or open on purpose (otelguardtest.NewTracker
// fails such a test at its end, as it should).
type recorder struct {
	tr  *otelguard.Tracker
	exp *memory.Exporter
	log *syncBuffer
}

func newRecorder(t testing.TB, opts ...otelguard.Option) *recorder {
	t.Helper()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	log := &syncBuffer{}
	all := append([]otelguard.Option{
		otelguard.WithTracerProvider(tp),
		otelguard.WithLogger(slog.New(slog.NewTextHandler(log, nil))),
	}, opts...)
	r := &recorder{tr: otelguard.New(all...), exp: exp, log: log}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = r.tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return r
}

// Context returns a context carrying r's Tracker, as
// otelguardtest.Recorder's does.
func (r *recorder) Context() context.Context {
	return otelguard.ContextWithTracker(context.Background(), r.tr)
}

// Lifetimes returns the lifetimes that ended, as otelguardtest.Recorder's
// does.
func (r *recorder) Lifetimes() []memory.Lifetime { return r.exp.Lifetimes() }

// wantMissedClose checks that l ended as a missed close: database/sql
// ended it because its context ended, closed_by=context,
// otelguard.missed_close=true and status Error saying so.
func wantMissedClose(t testing.TB, l memory.Lifetime) {
	t.Helper()
	wantAttr(t, l, string(guardsql.ClosedByKey), guardsql.ClosedByContext)
	if v, _ := attr(l, "otelguard.missed_close"); v != "true" {
		t.Errorf("%s: otelguard.missed_close = %q, want true; attributes: %v", l.Name, v, l.Span.Attributes)
	}
	if l.Span.Status.Code != codes.Error || !strings.Contains(l.Span.Status.Description, "because its context ended") {
		t.Errorf("%s: status %v %q, want Error saying its context ended", l.Name, l.Span.Status.Code, l.Span.Status.Description)
	}
}

// ended waits for the first lifetime named name to end and returns it.
func (r *recorder) ended(t testing.TB, name string) memory.Lifetime {
	t.Helper()
	var got memory.Lifetime
	waitFor(t, "a "+name+" lifetime to end", func() bool {
		for _, l := range r.exp.Lifetimes() {
			if l.Name == name {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

// leaked collects until a lifetime named name is reported leaked.
func (r *recorder) leaked(t testing.TB, name string) memory.Lifetime {
	t.Helper()
	var got memory.Lifetime
	waitFor(t, "a "+name+" lifetime to be reported leaked", func() bool {
		runtime.GC()
		_ = r.tr.Flush(context.Background())
		for _, l := range r.exp.Leaks() {
			if l.Name == name {
				got = l
				return true
			}
		}
		return false
	})
	return got
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

// openSQLite opens a SQLite database in a file of its own (an in-memory
// SQLite database is one per connection), with a table t(x) of three
// rows, and closes it when the test ends.
func openSQLite(t testing.TB, opts ...guardsql.Option) *sql.DB {
	t.Helper()
	db, err := guardsql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("create table t(x integer); insert into t values (1), (2), (3)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// attr returns the string value of key on l's span, and whether it has it.
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

func wantEnd(t testing.TB, l memory.Lifetime, o otelguard.Outcome, trig otelguard.Trigger) {
	t.Helper()
	if l.Outcome != o || l.Trigger != trig {
		t.Errorf("%s ended %s (trigger %s), want %s (trigger %s); attributes: %v", l.Name, l.Outcome, l.Trigger, o, trig, l.Span.Attributes)
	}
}

// wantSite checks that l's acquire stack starts in function fn (of this
// test package) at line.
func wantSite(t testing.TB, l memory.Lifetime, fn string, line int) {
	t.Helper()
	f, ok := l.AcquireSite()
	if !ok {
		t.Fatalf("%s: no acquire site; stack:\n%s", l.Name, l.AcquireStack)
	}
	full := "github.com/otelguard/otelguard-go/integrations/guardsql_test." + fn
	if f.Function != full || f.Line != line {
		t.Errorf("%s: acquire site %s:%d, want %s:%d; stack:\n%s", l.Name, f.Function, f.Line, full, line, l.AcquireStack)
	}
}

// line is the line it is called on.
func line() int {
	_, _, l, _ := runtime.Caller(1)
	return l
}

// contains reports whether s has every one of subs.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

type memoryLifetime = memory.Lifetime

// thisFile is the file name of the test package's sources.
func thisFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "rows_test.go")
}
