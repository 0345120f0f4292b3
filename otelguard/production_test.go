package otelguard_test

// Production (issue 17): every leak reaches a person whatever the trace
// sampling, at a cost a hot path can carry.

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordingHandler keeps the records and their contexts.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
	ctxs []context.Context
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	h.ctxs = append(h.ctxs, ctx)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

//go:noinline
func dropUnsampled(tr *otelguard.Tracker, ctx context.Context) {
	//otelguard:handoff dropped on purpose: the unsampled leak to log
	otelguard.Acquire(ctx, "db.rows", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
}

// An unsampled lifetime that leaks (NeverSample: no span is recorded) is
// logged with the acquirer's name and stack, and the record's context
// carries the lifetime's span context, so the otelslog bridge can tie it to
// its trace.
func TestUnsampledLeakIsLogged(t *testing.T) {
	h := &recordingHandler{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer tp.Shutdown(boundedCtx())
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithLogger(slog.New(h)))
	ctx, parent := tp.Tracer("t").Start(context.Background(), "request")
	dropUnsampled(tr, ctx)
	parent.End()
	collectLeaks(t, tr, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) != 1 {
		t.Fatalf("%d records, want 1", len(h.recs))
	}
	r := h.recs[0]
	got := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindGroup {
			for _, f := range a.Value.Group() {
				got[a.Key+"."+f.Key] = f.Value.String()
			}
		} else {
			got[a.Key] = a.Value.String()
		}
		return true
	})
	if r.Level != slog.LevelWarn || r.Message != "otelguard: lifetime leaked_without_close" ||
		got["otelguard.name"] != "db.rows" || got["otelguard.kind"] != "resource" ||
		!strings.HasPrefix(got["code.stacktrace.0"], "github.com/otelguard/otelguard-go/otelguard_test.dropUnsampled ") ||
		got["otelguard.age"] == "" {
		t.Fatalf("record %q: %v", r.Message, got)
	}
	sc := trace.SpanContextFromContext(h.ctxs[0])
	if !sc.IsValid() || sc.TraceID() != parent.SpanContext().TraceID() || sc.IsSampled() {
		t.Fatalf("record's span context %v, want the lifetime's (unsampled) in the request's trace", sc)
	}
}

//go:noinline
func leakInALoop(tr *otelguard.Tracker, n int) {
	for range n {
		//otelguard:handoff dropped on purpose: a leak in a loop
		otelguard.Acquire(context.Background(), "buf", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
	}
}

// A leak in a loop of 10,000 is one record at once, then one summary with
// the count of the others, not 10,000 records.
func TestLeakInALoopIsLoggedOnceWithACount(t *testing.T) {
	var out syncBuffer
	tr := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider()),
		otelguard.WithLogger(slog.New(slog.NewTextHandler(&out, nil))), otelguard.WithLeakLogInterval(time.Hour))
	leakInALoop(tr, 10_000)
	collectLeaks(t, tr, 10_000)
	if err := tr.Shutdown(boundedCtx()); err != nil { // logs what the hour folded
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d records, want 2 (the first, then the summary):\n%s", len(lines), out.String())
	}
	if strings.Contains(lines[0], string(attrkey.Repeats)) || !strings.Contains(lines[1], string(attrkey.Repeats)+"=9999") {
		t.Fatalf("want the first record alone, then otelguard.repeats=9999:\n%s", out.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, `code.stacktrace.0="github.com/otelguard/otelguard-go/otelguard_test.leakInALoop `) {
			t.Fatalf("a record lacks the site:\n%s", l)
		}
	}
}

// With a short interval the summary comes from a timer, without Shutdown:
// every leak is in a record, at once or counted in a summary.
func TestLeakSummaryAtTheIntervalsEnd(t *testing.T) {
	h := &recordingHandler{}
	tr := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider()),
		otelguard.WithLogger(slog.New(h)), otelguard.WithLeakLogInterval(50*time.Millisecond))
	leakInALoop(tr, 100)
	collectLeaks(t, tr, 100)
	count := func() (total int, summaries int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, r := range h.recs {
			n := 1
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == string(attrkey.Repeats) {
					n = int(a.Value.Int64())
					summaries++
				}
				return true
			})
			total += n
		}
		return total, summaries
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		total, summaries := count()
		if total == 100 && summaries > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records stand for %d leaks (%d summaries) 10s later, want 100", total, summaries)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Shutdown logs every open lifetime once per site, and what it folded
// before it returns.
func TestOpenAtShutdownIsLoggedPerSite(t *testing.T) {
	var out syncBuffer
	tr := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider()),
		otelguard.WithLogger(slog.New(slog.NewTextHandler(&out, nil))))
	var keep []*otelguard.Guard
	for range 50 {
		keep = append(keep, otelguard.NewGuard(context.Background(), "worker.lock", nop, otelguard.WithTracker(tr)))
	}
	if err := tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "otelguard: lifetime open_at_shutdown") || !strings.Contains(lines[1], string(attrkey.Repeats)+"=49") {
		t.Fatalf("want 2 records, the second with otelguard.repeats=49:\n%s", out.String())
	}
	for _, g := range keep {
		g.Disarm()
	}
}

// The leak metric carries the leaked lifetime's span as its exemplar.
func TestLeakMetricHasTheLifetimeAsExemplar(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(boundedCtx())
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(boundedCtx())
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithMeterProvider(mp))
	dropUnsampled(tr, context.Background())
	collectLeaks(t, tr, 1)
	leaked := rec.Ended()[0]
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != attrkey.MetricEnded {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				for _, ex := range dp.Exemplars {
					if trace.SpanID(ex.SpanID) == leaked.SpanContext().SpanID() {
						return
					}
				}
			}
		}
	}
	t.Fatalf("no exemplar of %s points at the leaked lifetime's span %v", attrkey.MetricEnded, leaked.SpanContext().SpanID())
}

// dropAt acquires at one call site (one function literal as the release),
// n times, keeping none of the handles.
//
//go:noinline
func dropAt(tr *otelguard.Tracker, n int) {
	for range n {
		//otelguard:handoff dropped on purpose: sampling decides which are found
		otelguard.NewGuard(context.Background(), "sampled", func(context.Context) error { return nil }, otelguard.WithTracker(tr))
	}
}

// With WithLeakSampling(n) the first 16 acquisitions of a call site are
// watched, then exactly one in n (a counter, not chance): of 16+5n dropped
// handles, 21 are found leaked; the others stay open, in Live, until
// CloseAll releases them.
func TestLeakSamplingWatchesTheFirstThenOneInN(t *testing.T) {
	const n = 10
	h := newHarness(t, otelguard.WithLeakSampling(n))
	dropAt(h.tr, 16+5*n)
	collectLeaks(t, h.tr, 16+5)
	if live := len(h.tr.Live()); live != 5*n-5 {
		t.Fatalf("Live = %d, want the %d unwatched", live, 5*n-5)
	}
	for _, l := range bridge.Leaks(h.tr) {
		if l.Stack == "" {
			t.Fatal("a watched lifetime has no stack")
		}
	}
	for _, l := range h.tr.Live() {
		if l.Stack != "" {
			t.Fatal("an unwatched lifetime paid for a stack")
		}
	}
	if err := h.tr.CloseAll(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.ended("sampled")); n != 16+5*10 {
		t.Fatalf("%d spans, want every lifetime's", n)
	}
}
