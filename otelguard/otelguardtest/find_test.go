package otelguardtest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func newTracker(t *testing.T, opts ...otelguard.Option) (*otelguard.Tracker, *memory.Exporter) {
	t.Helper()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return otelguard.New(append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)...), exp
}

func TestVerifyNoneNamesTheAcquiringFunction(t *testing.T) {
	tr, _ := newTracker(t)
	openAndForget(tr)
	ft := &fakeT{}
	otelguardtest.VerifyNone(ft, tr)
	errs := ft.errors()
	if len(errs) != 1 {
		t.Fatalf("VerifyNone reported %d errors, want 1: %q", len(errs), errs)
	}
	msg := errs[0]
	for _, want := range []string{
		"otelguard: found 1 unreleased lifetime:\n",
		`resource "db.conn": leaked_without_close, acquired at:` + "\n",
		"otelguardtest_test.openAndForget(...)\n\t",
		"helpers_test.go:",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if first := strings.SplitN(strings.SplitN(msg, "acquired at:\n", 2)[1], "\n", 2)[0]; !strings.HasSuffix(first, ".openAndForget(...)") {
		t.Errorf("the first frame is %q, not the acquiring function", first)
	}
	if ft.helpers == 0 {
		t.Error("VerifyNone did not call Helper")
	}
}

func TestFindIsNilWhenEverythingWasReleased(t *testing.T) {
	tr, _ := newTracker(t)
	for range 100 {
		openAndClose(tr)
		g := otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(tr))
		_ = g.Run()
	}
	s := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(tr))
	s.Defer("member", nop)
	_ = s.Close(context.Background())
	start := time.Now()
	if err := otelguardtest.Find(tr); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a clean Find took %v", d)
	}
	ft := &fakeT{}
	otelguardtest.VerifyNone(ft, tr)
	if errs := ft.errors(); len(errs) != 0 {
		t.Fatalf("VerifyNone failed a clean tracker: %q", errs)
	}
}

func TestFindReportsLeakedAndOpen(t *testing.T) {
	tr, _ := newTracker(t)
	openAndForget(tr)
	held := otelguard.NewGuard(context.Background(), "worker.lock", nop, otelguard.WithTracker(tr)) // reachable until the end
	err := otelguardtest.Find(tr, otelguardtest.MaxRetries(3))
	if err == nil {
		t.Fatal("Find found nothing")
	}
	msg := err.Error()
	leak := strings.Index(msg, `resource "db.conn": leaked_without_close, acquired at:`)
	open := strings.Index(msg, `guard "worker.lock": open, acquired at:`)
	if !strings.HasPrefix(msg, "otelguard: found 2 unreleased lifetimes:\n\n") || leak < 0 || open < leak {
		t.Fatalf("report:\n%s", msg)
	}
	if !strings.Contains(msg[open:], ".TestFindReportsLeakedAndOpen(...)") {
		t.Errorf("the open lifetime's stack does not name this test:\n%s", msg[open:])
	}

	// Still there until released; the leak stays in Leaks.
	_ = held.Run()
	err = otelguardtest.Find(tr, otelguardtest.MaxRetries(0))
	if err == nil || strings.Contains(err.Error(), "worker.lock") || !strings.Contains(err.Error(), "found 1 unreleased lifetime:") {
		t.Fatalf("after Run: %v", err)
	}
}

// slowExporter delays each export, so that a leak is in Tracker.Leaks well
// before its span has ended.
type slowExporter struct {
	*memory.Exporter
	delay time.Duration
}

func (s slowExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	time.Sleep(s.delay)
	return s.Exporter.ExportSpans(ctx, spans)
}

func TestFindReturnsAfterReportedLeaksEndedTheirSpans(t *testing.T) {
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(slowExporter{exp, 50 * time.Millisecond}))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	for range 3 {
		openAndForget(tr)
	}
	err := otelguardtest.Find(tr)
	if err == nil || !strings.Contains(err.Error(), "found 3 unreleased lifetimes:") {
		t.Fatalf("Find = %v", err)
	}
	if n := len(exp.Leaks()); n != 3 {
		t.Fatalf("Find returned with %d of 3 leak spans exported", n)
	}
}

func TestFindReportsAReleaseStillRunning(t *testing.T) {
	tr, _ := newTracker(t)
	unblock := make(chan struct{})
	r := otelguard.Acquire(context.Background(), "socket.drain", 0, func(context.Context, int) error {
		<-unblock // ignores its context
		return nil
	}, otelguard.WithTracker(tr))
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	<-r.CloseAsync(ctx) // given up at the deadline; the release goes on
	cancel()
	time.AfterFunc(300*time.Millisecond, func() { close(unblock) })
	start := time.Now()
	err := otelguardtest.Find(tr, otelguardtest.MaxRetries(1))
	if err == nil || !strings.Contains(err.Error(), `resource "socket.drain": open (its release is still running), acquired at:`) {
		t.Fatalf("Find = %v", err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Error("Find did not wait for the tracker's goroutines")
	}
	if err := otelguardtest.Find(tr, otelguardtest.MaxRetries(0)); err != nil {
		t.Fatalf("after the straggler returned: %v", err)
	}
}

func TestFindReportsLifetimesReportedAtShutdownButNeverReleased(t *testing.T) {
	tr, _ := newTracker(t)
	g := otelguard.NewGuard(context.Background(), "lock", nop, otelguard.WithTracker(tr))
	_ = tr.Shutdown(context.Background())
	err := otelguardtest.Find(tr, otelguardtest.MaxRetries(0))
	if err == nil || !strings.Contains(err.Error(), `guard "lock": open (reported open_at_shutdown, never released)`) {
		t.Fatalf("Find = %v", err)
	}
	_ = g.Run()
}

func TestFindWithoutStacks(t *testing.T) {
	tr, _ := newTracker(t, otelguard.WithStackDepth(-1))
	openAndForget(tr)
	err := otelguardtest.Find(tr)
	if err == nil || !strings.Contains(err.Error(), `resource "db.conn": leaked_without_close (no acquire stack: the Tracker captures none)`) {
		t.Fatalf("Find = %v", err)
	}
}

//go:noinline
func openWatched(tr *otelguard.Tracker, ctx context.Context) {
	otelguard.Acquire(ctx, "lease", 0, release, otelguard.WithTracker(tr), otelguard.CloseOnCancel())
}

// A CloseOnCancel handle dropped before its context is done is not a leak:
// the context owns the release. Until the context is done, Find lists it
// once, as open.
func TestFindListsADroppedCloseOnCancelHandleAsOpen(t *testing.T) {
	tr, _ := newTracker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	openWatched(tr, ctx)
	err := otelguardtest.Find(tr, otelguardtest.MaxRetries(2))
	if err == nil || !strings.Contains(err.Error(), "found 1 unreleased lifetime:") || !strings.Contains(err.Error(), `resource "lease": open`) {
		t.Fatalf("Find = %v", err)
	}
	cancel()
	if err := otelguardtest.Find(tr); err != nil {
		t.Fatalf("Find after the context was cancelled = %v", err)
	}
}

//go:noinline
func leakReleased(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: ReleaseOnLeak releases it when the GC finds it
	otelguard.Acquire(context.Background(), "fd", 0, release, otelguard.WithTracker(tr), otelguard.ReleaseOnLeak())
}

func TestFindSaysWhenReleaseOnLeakRan(t *testing.T) {
	tr, exp := newTracker(t)
	leakReleased(tr)
	err := otelguardtest.Find(tr)
	if err == nil || !strings.Contains(err.Error(), `resource "fd": leaked_without_close (released by ReleaseOnLeak), acquired at:`) {
		t.Fatalf("Find = %v", err)
	}
	if ls := exp.Leaks(); len(ls) != 1 || !ls[0].LeakReleased {
		t.Fatalf("exported leaks: %+v", ls)
	}
}

func TestIgnoreName(t *testing.T) {
	tr, _ := newTracker(t)
	openAndForget(tr)
	pool := otelguard.NewGuard(context.Background(), "pool", nop, otelguard.WithTracker(tr))
	if err := otelguardtest.Find(tr, otelguardtest.IgnoreName("db.conn"), otelguardtest.IgnoreName("pool")); err != nil {
		t.Fatalf("Find with both names ignored: %v", err)
	}
	err := otelguardtest.Find(tr, otelguardtest.IgnoreName("pool"))
	if err == nil || strings.Contains(err.Error(), "pool") || !strings.Contains(err.Error(), "db.conn") {
		t.Fatalf("Find ignoring pool: %v", err)
	}
	_ = pool.Run()
}

func TestIgnoreCurrent(t *testing.T) {
	tr, _ := newTracker(t)
	openAndForget(tr)
	old := otelguard.NewGuard(context.Background(), "old", nop, otelguard.WithTracker(tr))
	if err := otelguardtest.Find(tr, otelguardtest.MaxRetries(1)); err == nil {
		t.Fatal("no baseline: Find found nothing")
	}
	baseline := otelguardtest.IgnoreCurrent()
	if err := otelguardtest.Find(tr, baseline, otelguardtest.MaxRetries(1)); err != nil {
		t.Fatalf("everything predates the baseline: %v", err)
	}
	openAndForget(tr)
	err := otelguardtest.Find(tr, baseline)
	if err == nil || !strings.Contains(err.Error(), "found 1 unreleased lifetime:") || strings.Contains(err.Error(), `"old"`) {
		t.Fatalf("Find after the baseline: %v", err)
	}
	_ = old.Run()
}

func TestMaxRetriesBoundsTheWait(t *testing.T) {
	tr, _ := newTracker(t)
	g := otelguard.NewGuard(context.Background(), "held", nop, otelguard.WithTracker(tr))
	start := time.Now()
	err := otelguardtest.Find(tr, otelguardtest.MaxRetries(-1)) // taken as 0
	if err == nil {
		t.Fatal("Find found nothing")
	}
	zero := time.Since(start)
	start = time.Now()
	if err := otelguardtest.Find(tr); err == nil {
		t.Fatal("Find found nothing")
	}
	def := time.Since(start)
	// The default retries sleep about 0.4s in all; none sleep at all.
	if def < 300*time.Millisecond || zero > def {
		t.Errorf("MaxRetries(0) took %v, the default %v", zero, def)
	}
	_ = g.Run()
}

func TestFindIsSafeConcurrently(t *testing.T) {
	tr, _ := newTracker(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				openAndClose(tr)
			}
			_ = otelguardtest.Find(tr, otelguardtest.MaxRetries(0))
		}()
	}
	wg.Wait()
	if err := otelguardtest.Find(tr); err != nil {
		t.Fatal(err)
	}
}

func TestNilArgumentsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"Find":       func() { _ = otelguardtest.Find(nil) },
		"VerifyNone": func() { otelguardtest.VerifyNone(&fakeT{}, nil) },
		"NewTracker": func() { otelguardtest.NewTracker(nil) },
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "otelguardtest: ") {
					t.Errorf("%s(nil): panic %q", name, msg)
				}
			}()
			f()
		}()
	}
}
