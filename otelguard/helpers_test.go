package otelguard_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is a Tracker recording into a SpanRecorder.
type harness struct {
	rec   *tracetest.SpanRecorder // every span but findings
	finds *tracetest.SpanRecorder // the finding spans (otelguard.finding)
	tp    *sdktrace.TracerProvider
	tr    *otelguard.Tracker
}

func newHarness(t testing.TB, opts ...otelguard.Option) *harness {
	t.Helper()
	rec, finds := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(onlySpans{rec, false}),
		sdktrace.WithSpanProcessor(onlySpans{finds, true}))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts = append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)
	return &harness{rec: rec, finds: finds, tp: tp, tr: otelguard.New(opts...)}
}

// onlySpans passes to its processor the finding spans (findings) or every
// other span.
type onlySpans struct {
	sdktrace.SpanProcessor
	findings bool
}

func isFinding(name string) bool { return name == "otelguard.finding" }

func (o onlySpans) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	if isFinding(s.Name()) == o.findings {
		o.SpanProcessor.OnStart(ctx, s)
	}
}

func (o onlySpans) OnEnd(s sdktrace.ReadOnlySpan) {
	if isFinding(s.Name()) == o.findings {
		o.SpanProcessor.OnEnd(s)
	}
}

// ended returns the ended spans with the given name.
func (h *harness) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only ended span named name, failing otherwise.
func (h *harness) one(t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	ss := h.ended(name)
	if len(ss) != 1 {
		t.Fatalf("want 1 ended span %q, got %d (all ended: %v)", name, len(ss), names(h.rec.Ended()))
	}
	return ss[0]
}

func names(ss []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name())
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		if _, dup := m[kv.Key]; dup {
			panic("duplicate attribute " + string(kv.Key))
		}
		m[kv.Key] = kv.Value
	}
	return m
}

// wantEnd checks outcome and trigger of an ended lifetime span.
func wantEnd(t testing.TB, s sdktrace.ReadOnlySpan, o otelguard.Outcome, tr otelguard.Trigger) map[attribute.Key]attribute.Value {
	t.Helper()
	a := attrs(s)
	if got := a[attrkey.Outcome].AsString(); got != string(o) {
		t.Errorf("%s: outcome = %q, want %q (attrs %v)", s.Name(), got, o, s.Attributes())
	}
	if got := a[attrkey.Trigger].AsString(); got != string(tr) {
		t.Errorf("%s: trigger = %q, want %q", s.Name(), got, tr)
	}
	return a
}

// handled captures what reaches otel.Handle during a test.
type handled struct {
	mu   sync.Mutex
	errs []error
}

func (h *handled) Handle(err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

func (h *handled) all() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

// captureHandled installs an error handler for the test. Tests using it
// must not run in parallel.
func captureHandled(t testing.TB) *handled {
	h := &handled{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(h)
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return h
}

func nop(context.Context) error { return nil }

func otelguardAttr(k, v string) attribute.KeyValue { return attribute.String(k, v) }

func containsFunc(stack, fn string) bool { return strings.Contains(stack, "."+fn+"(") }

func runtimeGoexit() { runtime.Goexit() }

// The documented bounds and defaults (doc.go's tables), which the core no
// longer exports.
const (
	maxNameLength            = 256
	defaultCleanupTimeout    = 10 * time.Second
	defaultStackDepth        = 32
	maxStackDepth            = 128
	maxAttributes            = 64
	defaultLeakLogInterval   = time.Minute
	defaultLeakCheckInterval = time.Minute
)

// withoutFindings drops the finding spans (findings_test.go checks them).
func withoutFindings(ss []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range ss {
		if !isFinding(s.Name()) {
			out = append(out, s)
		}
	}
	return out
}

// boundedCtx is a context for a Shutdown, CloseAll or Flush in a test: a
// minute at most, so that a hang fails with the test's name and a stack
// instead of waiting for the package's timeout. Inside a testing/synctest
// bubble (no monotonic clock reading), where fake time may run for hours
// on purpose, it is context.Background(): the bubble's deadlock detection
// names a hang there.
func boundedCtx() context.Context {
	if now := time.Now(); now == now.Round(0) {
		return context.Background()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_ = cancel // the timer ends with the minute; tests make a bounded number
	return ctx
}
