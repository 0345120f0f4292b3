package leaklog_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/leaklog"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// capture is a slog.Handler that keeps the records it handles.
type capture struct {
	mu    sync.Mutex
	recs  []slog.Record
	level slog.Level
	err   error
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }

func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return c.err
}

func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func (c *capture) records() []slog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]slog.Record(nil), c.recs...)
}

// frame returns frame i of the stack in a record's attributes: a group of
// "function file:line" keyed by index.
func frame(a map[string]slog.Value, i int) string {
	st := a["code.stacktrace"]
	if st.Kind() != slog.KindGroup {
		return ""
	}
	for _, f := range st.Group() {
		if f.Key == strconv.Itoa(i) {
			return f.Value.String()
		}
	}
	return ""
}

func attrsOf(r slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value
		return true
	})
	return m
}

func setup(t *testing.T, h slog.Handler, syncer bool) (*sdktrace.TracerProvider, *otelguard.Tracker) {
	t.Helper()
	exp := leaklog.New(slog.New(h))
	opt := sdktrace.WithSyncer(exp)
	if !syncer {
		opt = sdktrace.WithBatcher(exp)
	}
	tp := sdktrace.NewTracerProvider(opt)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, otelguard.New(otelguard.WithTracerProvider(tp))
}

func release(context.Context, int) error { return nil }

//go:noinline
func leakBuffer(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the test wants the GC's leaked_without_close report
	otelguard.Acquire(context.Background(), "report.buffer", 0, release, otelguard.WithTracker(tr))
}

func waitLeaks(t *testing.T, tr *otelguard.Tracker, want int64) {
	t.Helper()
	for i := 0; i < 200 && bridge.LeakCount(tr) < want; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if err := tr.Flush(context.Background()); err != nil || bridge.LeakCount(tr) != want {
		t.Fatalf("leaks %d, want %d (%v)", bridge.LeakCount(tr), want, err)
	}
}

func TestEveryBadOutcomeIsOneWarning(t *testing.T) {
	h := &capture{}
	tp, tr := setup(t, h, true)
	ctx := context.Background()

	// Ended well: nothing logged.
	ok := otelguard.Acquire(ctx, "db.conn", 0, release, otelguard.WithTracker(tr))
	_ = ok.Close(ctx)
	//otelguard:handoff misuse on purpose: a misuse record, not a lifetime, must not be logged
	_ = ok.Value() // misuse record: not a lifetime
	otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return nil }, otelguard.WithTracker(tr)).Disarm()
	_, plain := tp.Tracer("app").Start(ctx, "app.span")
	plain.End()

	// Ended badly: one record each.
	failed := otelguard.Acquire(ctx, "cache.flush", 0, func(context.Context, int) error { return errors.New("unreachable") }, otelguard.WithTracker(tr))
	_ = failed.Close(ctx)
	unblock := make(chan struct{})
	slow := otelguard.Acquire(ctx, "socket.drain", 0, func(context.Context, int) error { <-unblock; return nil }, otelguard.WithTracker(tr))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	<-slow.CloseAsync(short)
	cancel()
	close(unblock)
	leakBuffer(tr)
	waitLeaks(t, tr, 1)
	held := otelguard.NewGuard(ctx, "worker.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tr))
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_ = held.Run()

	recs := h.records()
	want := map[string]string{
		"cache.flush":   "failed",
		"socket.drain":  "timed_out",
		"report.buffer": "leaked_without_close",
		"worker.lock":   "open_at_shutdown",
	}
	if len(recs) != len(want) {
		var got []string
		for _, r := range recs {
			got = append(got, r.Message)
		}
		t.Fatalf("%d records, want %d: %q", len(recs), len(want), got)
	}
	for _, r := range recs {
		a := attrsOf(r)
		name := a["otelguard.name"].String()
		outcome := want[name]
		if r.Level != slog.LevelWarn || r.Message != leaklog.MessagePrefix+outcome || a["otelguard.outcome"].String() != outcome {
			t.Errorf("%s: level %v message %q attrs %v", name, r.Level, r.Message, a)
		}
		if r.Time.IsZero() || time.Since(r.Time) > time.Minute {
			t.Errorf("%s: time %v", name, r.Time)
		}
		switch name {
		case "cache.flush":
			if a["error.type"].String() != "*errors.errorString" || a["otelguard.trigger"].String() != "close" || a["otelguard.kind"].String() != "resource" {
				t.Errorf("failed: %v", a)
			}
			if _, ok := a["code.stacktrace"]; ok {
				t.Errorf("failed carries a stack: %v", a)
			}
		case "socket.drain":
			if a["error.type"].String() != "timeout" {
				t.Errorf("timed_out: %v", a)
			}
		case "report.buffer":
			if a["otelguard.trigger"].String() != "gc" || !strings.HasPrefix(frame(a, 0), "github.com/otelguard/otelguard-go/exporters/leaklog_test.leakBuffer ") {
				t.Errorf("leaked: %v", a)
			}
		case "worker.lock":
			if a["otelguard.kind"].String() != "guard" || a["otelguard.trigger"].String() != "shutdown" ||
				!strings.HasPrefix(frame(a, 0), "github.com/otelguard/otelguard-go/exporters/leaklog_test.TestEveryBadOutcomeIsOneWarning ") {
				t.Errorf("open_at_shutdown: %v", a)
			}
		}
	}
}

//go:noinline
func leakReleased(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: ReleaseOnLeak releases it when the GC finds it
	otelguard.Acquire(context.Background(), "fd", 0, release, otelguard.WithTracker(tr), otelguard.ReleaseOnLeak())
}

func TestLeakReleasedIsLogged(t *testing.T) {
	h := &capture{}
	_, tr := setup(t, h, true)
	leakReleased(tr)
	waitLeaks(t, tr, 1)
	recs := h.records()
	if len(recs) != 1 || !attrsOf(recs[0])["otelguard.leak.released"].Bool() {
		t.Fatalf("records: %v", recs)
	}
}

func TestWithBatcher(t *testing.T) {
	h := &capture{}
	tp, tr := setup(t, h, false)
	g := otelguard.NewGuard(context.Background(), "lock", func(context.Context) error { return nil }, otelguard.WithTracker(tr))
	_ = tr.Shutdown(context.Background())
	_ = g.Run()
	if err := tp.Shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	if recs := h.records(); len(recs) != 1 || recs[0].Message != "otelguard: lifetime open_at_shutdown" {
		t.Fatalf("records: %v", recs)
	}
}

// stubs are two lifetime spans: one failed, one cleaned.
func stubs() []sdktrace.ReadOnlySpan {
	end := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return tracetest.SpanStubs{
		{Name: "a", EndTime: end, Attributes: []attribute.KeyValue{
			attrkey.Kind.String("resource"), attrkey.Outcome.String("failed"),
			attrkey.Trigger.String("close"), attrkey.ErrorType.String("io.EOF")}},
		{Name: "b", EndTime: end, Attributes: []attribute.KeyValue{
			attrkey.Kind.String("guard"), attrkey.Outcome.String("cleaned")}},
		{Name: "c", EndTime: end, Attributes: []attribute.KeyValue{
			attrkey.Kind.String("guard"), attrkey.Outcome.String("timed_out")}},
	}.Snapshots()
}

func TestRecordTimeIsTheSpansEnd(t *testing.T) {
	h := &capture{}
	if err := leaklog.New(slog.New(h)).ExportSpans(context.Background(), stubs()); err != nil {
		t.Fatal(err)
	}
	recs := h.records()
	if len(recs) != 2 || !recs[0].Time.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) || attrsOf(recs[0])["error.type"].String() != "io.EOF" {
		t.Fatalf("records: %v", recs)
	}
	if _, ok := attrsOf(recs[1])["error.type"]; ok {
		t.Errorf("an absent error.type is logged: %v", recs[1])
	}
}

func TestExportSpansHonoursDoneContext(t *testing.T) {
	h := &capture{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := leaklog.New(slog.New(h)).ExportSpans(ctx, stubs()); !errors.Is(err, context.Canceled) {
		t.Fatalf("ExportSpans(done ctx) = %v", err)
	}
	if n := len(h.records()); n != 0 {
		t.Fatalf("%d records with a done context", n)
	}
}

func TestShutdownMakesExportsNoOps(t *testing.T) {
	h := &capture{}
	exp := leaklog.New(slog.New(h))
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), stubs()); err != nil || len(h.records()) != 0 {
		t.Fatalf("after Shutdown: %v, %d records", err, len(h.records()))
	}
}

func TestHandlerErrorsAreReturned(t *testing.T) {
	boom := errors.New("disk full")
	h := &capture{err: boom}
	err := leaklog.New(slog.New(h)).ExportSpans(context.Background(), stubs())
	if !errors.Is(err, boom) || len(h.records()) != 2 {
		t.Fatalf("err %v, %d records", err, len(h.records()))
	}
}

func TestDisabledLevelLogsNothing(t *testing.T) {
	h := &capture{level: slog.LevelError}
	if err := leaklog.New(slog.New(h)).ExportSpans(context.Background(), stubs()); err != nil || len(h.records()) != 0 {
		t.Fatalf("err %v, %d records", err, len(h.records()))
	}
}

func TestNilLoggerFollowsTheDefault(t *testing.T) {
	old := slog.Default()
	defer slog.SetDefault(old)
	exp := leaklog.New(nil) // before the default is set: looked up at export
	h := &capture{}
	slog.SetDefault(slog.New(h))
	if err := exp.ExportSpans(context.Background(), stubs()); err != nil || len(h.records()) != 2 {
		t.Fatalf("err %v, %d records", err, len(h.records()))
	}
}

func TestConcurrentExportsAndShutdown(t *testing.T) {
	h := &capture{}
	exp := leaklog.New(slog.New(h))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_ = exp.ExportSpans(context.Background(), stubs())
			}
		}()
	}
	_ = exp.Shutdown(context.Background())
	wg.Wait()
	n := len(h.records())
	_ = exp.ExportSpans(context.Background(), stubs())
	if len(h.records()) != n || n%2 != 0 {
		t.Fatalf("records %d then %d", n, len(h.records()))
	}
}
