package otelguardtest_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestNewTrackerPassesACleanTest(t *testing.T) {
	ft := &fakeT{}
	rec := otelguardtest.NewTracker(ft)
	openAndClose(rec.Tracker)
	ls := rec.Lifetimes()
	if len(ls) != 1 || ls[0].Name != "db.conn" || ls[0].Outcome != otelguard.OutcomeCleaned {
		t.Fatalf("Lifetimes before the end = %+v", ls)
	}
	ft.finish()
	if errs := ft.errors(); len(errs) != 0 {
		t.Fatalf("a clean test failed: %q", errs)
	}
}

func TestNewTrackerFailsALeakingTest(t *testing.T) {
	ft := &fakeT{}
	rec := otelguardtest.NewTracker(ft)
	openAndForget(rec.Tracker)
	ft.finish()
	errs := ft.errors()
	if len(errs) != 1 || !strings.Contains(errs[0], `resource "db.conn": leaked_without_close`) || !strings.Contains(errs[0], ".openAndForget(") {
		t.Fatalf("errors = %q", errs)
	}
	// The Exporter keeps its records after the provider's shutdown.
	ls := rec.Exporter.Leaks()
	if len(ls) != 1 {
		t.Fatalf("Leaks after the test = %+v", ls)
	}
	if site, ok := ls[0].AcquireSite(); !ok || !strings.HasSuffix(site.Function, ".openAndForget") {
		t.Fatalf("AcquireSite = %v, %v", site, ok)
	}
}

func TestNewTrackerFailsATestThatLeavesALifetimeOpen(t *testing.T) {
	ft := &fakeT{}
	rec := otelguardtest.NewTracker(ft)
	g := otelguard.NewGuard(context.Background(), "worker.lock", nop, otelguard.WithTracker(rec.Tracker))
	ft.finish() // g is still reachable: open
	errs := ft.errors()
	if len(errs) != 1 || !strings.Contains(errs[0], `guard "worker.lock": open, acquired at:`) {
		t.Fatalf("errors = %q", errs)
	}
	// It was then ended as open_at_shutdown, so the Exporter has it.
	if ls := rec.Exporter.ByOutcome(otelguard.OutcomeOpenAtShutdown); len(ls) != 1 || ls[0].Name != "worker.lock" {
		t.Fatalf("open_at_shutdown = %+v", ls)
	}
	_ = g.Run() // released later: nothing more is recorded
	if n := len(rec.Lifetimes()); n != 1 {
		t.Fatalf("Lifetimes = %d", n)
	}
}

func TestNewTrackerAppliesCallerOptionsLast(t *testing.T) {
	other := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(other))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ft := &fakeT{}
	rec := otelguardtest.NewTracker(ft, otelguard.WithTracerProvider(tp), otelguard.WithStackDepth(-1))
	openAndClose(rec.Tracker)
	openAndForget(rec.Tracker)
	ft.finish()
	if n := len(rec.Lifetimes()); n != 0 {
		t.Errorf("the Recorder's exporter has %d lifetimes; the caller's provider should have them", n)
	}
	if n := len(other.Lifetimes()); n != 2 {
		t.Errorf("the caller's exporter has %d lifetimes, want 2", n)
	}
	// Verification reads the Tracker, not the spans: the leak still fails
	// the test, without a stack (LeakDetectionOn).
	if errs := ft.errors(); len(errs) != 1 || !strings.Contains(errs[0], "no acquire stack") {
		t.Fatalf("errors = %q", errs)
	}
}

func TestNewTrackerRecordsUnderTheTestsSpans(t *testing.T) {
	ft := &fakeT{}
	rec := otelguardtest.NewTracker(ft)
	ctx, parent := rec.TracerProvider.Tracer("test").Start(context.Background(), "request")
	g := otelguard.NewGuard(ctx, "g", nop, otelguard.WithTracker(rec.Tracker))
	_ = g.Run()
	parent.End()
	ft.finish()
	ls := rec.Lifetimes()
	if len(ls) != 1 || ls[0].Span.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("Lifetimes = %+v", ls)
	}
}

// TestParallelTrackersJudgeOnlyTheirOwn runs two parallel tests, each with
// its own Tracker and a fake TestingT, at the same time: the one that
// leaks fails and the other does not. See also
// TestParallelTestsInAChildProcess, which does the same with real tests.
func TestParallelTrackersJudgeOnlyTheirOwn(t *testing.T) {
	leaky, clean := &fakeT{}, &fakeT{}
	var both sync.WaitGroup // both tests are running before either ends
	both.Add(2)
	t.Run("group", func(t *testing.T) {
		t.Run("leaky", func(t *testing.T) {
			t.Parallel()
			rec := otelguardtest.NewTracker(leaky)
			openAndForget(rec.Tracker)
			both.Done()
			both.Wait()
			leaky.finish()
		})
		t.Run("clean", func(t *testing.T) {
			t.Parallel()
			rec := otelguardtest.NewTracker(clean)
			openAndClose(rec.Tracker)
			both.Done()
			both.Wait()
			clean.finish()
		})
	})
	if errs := clean.errors(); len(errs) != 0 {
		t.Errorf("the clean test failed: %q", errs)
	}
	if errs := leaky.errors(); len(errs) != 1 || !strings.Contains(errs[0], ".openAndForget(") {
		t.Errorf("the leaky test: %q", errs)
	}
}
