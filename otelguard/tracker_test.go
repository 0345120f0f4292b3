package otelguard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestShutdownReportsOpenAndKeepsWorking(t *testing.T) {
	h := newHarness(t)
	ran := 0
	g := otelguard.NewGuard(context.Background(), "open.guard", func(context.Context) error { ran++; return nil }, otelguard.WithTracker(h.tr))
	r := otelguard.Acquire(context.Background(), "open.res", 0, func(context.Context, int) error { ran++; return nil }, otelguard.WithTracker(h.tr))
	closed := otelguard.Acquire(context.Background(), "closed", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
	_ = closed.Close(context.Background())

	if err := h.tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"open.guard", "open.res"} {
		a := wantEnd(t, h.one(t, n), otelguard.OutcomeOpenAtShutdown, otelguard.TriggerShutdown)
		if st := a[attrkey.Stacktrace].AsString(); !containsFunc(st, "TestShutdownReportsOpenAndKeepsWorking") {
			t.Errorf("%s: stack does not name the acquirer:\n%s", n, st)
		}
	}
	// Reported, but still open: Live says so, and a second Shutdown
	// returns nil and does nothing: Shutdown is terminal.
	live := h.tr.Live()
	if len(live) != 2 || !live[0].Reported || live[0].Name != "open.guard" {
		t.Fatalf("Live after Shutdown = %+v", live)
	}
	if err := h.tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Ended()); n != 3 {
		t.Fatalf("%d spans ended, want 3", n)
	}
	// The release still runs later, recording nothing more.
	_ = g.Run()
	_ = r.Close(context.Background())
	if ran != 2 {
		t.Fatalf("releases ran %d times after Shutdown, want 2", ran)
	}
	if n := len(h.rec.Ended()); n != 3 {
		t.Fatalf("%d spans ended after late releases, want 3", n)
	}
	// Lifetimes acquired after Shutdown still work, but are not tracked:
	// no span, not in Live, not reported.
	ranAfter := 0
	g2 := otelguard.NewGuard(context.Background(), "after", func(context.Context) error { ranAfter++; return nil }, otelguard.WithTracker(h.tr))
	r2 := otelguard.Acquire(context.Background(), "after.res", 0, func(context.Context, int) error { ranAfter++; return nil }, otelguard.WithTracker(h.tr))
	if n := len(h.tr.Live()); n != 0 { // the new ones are not tracked
		t.Fatalf("Live = %d after acquiring on a shut-down Tracker", n)
	}
	_ = g2.Run()
	if err := r2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ranAfter != 2 {
		t.Fatalf("%d releases ran after Shutdown, want 2", ranAfter)
	}
	if n := len(h.rec.Ended()); n != 3 {
		t.Fatalf("%d spans ended, want 3: nothing acquired after Shutdown starts a span", n)
	}
	if n := len(h.tr.Live()); n != 0 {
		t.Fatalf("Live = %d", n)
	}
}

func TestConcurrentShutdownReportsEachOnce(t *testing.T) {
	h := newHarness(t)
	const n = 100
	gs := make([]*otelguard.Guard, n)
	for i := range gs {
		gs[i] = otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(h.tr))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = h.tr.Shutdown(boundedCtx()) })
	}
	wg.Wait()
	if got := len(h.ended("g")); got != n {
		t.Fatalf("%d spans, want %d", got, n)
	}
	for _, g := range gs {
		g.Disarm()
	}
}

func TestCloseAllReleasesNewestFirst(t *testing.T) {
	h := newHarness(t)
	var log orderLog
	boom := errors.New("boom")
	g := otelguard.NewGuard(context.Background(), "g1", log.cleanup("g1", nil), otelguard.WithTracker(h.tr))
	_ = otelguard.Acquire(context.Background(), "r2", 0, func(context.Context, int) error { log.add("r2"); return boom }, otelguard.WithTracker(h.tr))
	sc := otelguard.NewScope(context.Background(), "s3", otelguard.WithTracker(h.tr))
	sc.Defer("m4", log.cleanup("m4", nil))
	closed := otelguard.NewGuard(context.Background(), "done", log.cleanup("done", nil), otelguard.WithTracker(h.tr))
	_ = closed.Run()
	log.seq = nil

	err := h.tr.CloseAll(boundedCtx())
	if !errors.Is(err, boom) {
		t.Fatalf("CloseAll = %v, want the release error", err)
	}
	if want := []string{"m4", "r2", "g1"}; !slices.Equal(log.seq, want) {
		t.Fatalf("order %v, want %v", log.seq, want)
	}
	for _, n := range []string{"g1", "r2", "s3", "m4"} {
		s := h.one(t, n)
		if got := attrs(s)[attrkey.Trigger].AsString(); got != "shutdown" {
			t.Errorf("%s trigger %q", n, got)
		}
	}
	if err := h.tr.CloseAll(boundedCtx()); err != nil {
		t.Fatalf("second CloseAll = %v", err)
	}
	if err := g.Run(); err != nil || len(log.seq) != 3 {
		t.Fatalf("Run after CloseAll ran the cleanup again")
	}
}

func TestCloseAllTurnsPanicsIntoErrors(t *testing.T) {
	h := newHarness(t)
	hd := captureHandled(t)
	_ = otelguard.NewGuard(context.Background(), "p", func(context.Context) error { panic("x") }, otelguard.WithTracker(h.tr))
	err := h.tr.CloseAll(boundedCtx())
	var pe *otelguard.PanicError
	if !errors.As(err, &pe) || pe.Value != "x" {
		t.Fatalf("CloseAll = %v", err)
	}
	if len(hd.all()) != 1 {
		t.Fatal("panic not handed to otel.Handle")
	}
}

func TestLiveIsInAcquireOrder(t *testing.T) {
	h := newHarness(t)
	var gs []*otelguard.Guard
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		gs = append(gs, otelguard.NewGuard(context.Background(), n, nop, otelguard.WithTracker(h.tr)))
	}
	gs[2].Disarm()
	var got []string
	for _, l := range h.tr.Live() {
		got = append(got, l.Name)
		if l.Kind != otelguard.KindGuard || l.AcquiredAt.IsZero() || l.Stack == "" || len(bridge.LivePCs(l)) == 0 {
			t.Errorf("incomplete %+v", l)
		}
	}
	if want := []string{"a", "b", "d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("Live = %v, want %v", got, want)
	}
	for _, g := range gs {
		g.Disarm()
	}
}

func TestLiveSeesEveryConcurrentAcquire(t *testing.T) {
	tr := otelguard.New(otelguard.WithTracerProvider(noop.NewTracerProvider()))
	const workers, per = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []*otelguard.Guard
	for range workers {
		wg.Go(func() {
			for range per {
				g := otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(tr))
				mu.Lock()
				all = append(all, g)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := len(tr.Live()); n != workers*per {
		t.Fatalf("Live = %d, want %d", n, workers*per)
	}
	for _, g := range all {
		_ = g.Run()
	}
	if n := len(tr.Live()); n != 0 {
		t.Fatalf("Live = %d after all ran", n)
	}
}

func TestNoopProviderStartsNoSpansButTracks(t *testing.T) {
	tr := otelguard.New(otelguard.WithTracerProvider(noop.NewTracerProvider()), otelguard.WithLeakSampling(-1))
	var ran atomic.Int32
	_ = otelguard.NewGuard(context.Background(), "g", func(context.Context) error { ran.Add(1); return nil }, otelguard.WithTracker(tr))
	r := otelguard.Acquire(context.Background(), "r", 0, func(context.Context, int) error { ran.Add(1); return nil }, otelguard.WithTracker(tr))
	if n := len(tr.Live()); n != 2 {
		t.Fatalf("Live = %d", n)
	}
	_ = r.Value()
	if err := tr.CloseAll(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 2 {
		t.Fatalf("CloseAll ran %d", ran.Load())
	}
	_ = r.Value() // misuse with no tracing: nothing to record, nothing breaks
}

func TestDefaultFollowsGlobalProviderLazily(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	rec1 := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec1)))
	_ = otelguard.NewGuard(context.Background(), "one", nop).Run()

	rec2 := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec2)))
	_ = otelguard.NewGuard(context.Background(), "two", nop).Run()

	if len(rec1.Ended()) != 1 || rec1.Ended()[0].Name() != "one" {
		t.Errorf("first provider got %v", names(rec1.Ended()))
	}
	if len(rec2.Ended()) != 1 || rec2.Ended()[0].Name() != "two" {
		t.Errorf("second provider got %v", names(rec2.Ended()))
	}
	if d1, d2 := otelguard.Default(), otelguard.Default(); d1 != d2 {
		t.Error("Default is not one tracker")
	}
	s := rec2.Ended()[0]
	if s.InstrumentationScope().Name != otelguard.ScopeName || s.InstrumentationScope().Version != "0.1.0" {
		t.Errorf("scope = %+v", s.InstrumentationScope())
	}
}

func TestZeroTrackerWorks(t *testing.T) {
	var tr otelguard.Tracker
	g := otelguard.NewGuard(context.Background(), "z", nop, otelguard.WithTracker(&tr))
	if live := tr.Live(); len(live) != 1 || live[0].Stack == "" {
		t.Fatalf("Live = %+v", live)
	}
	_ = g.Run()
	if err := tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
}

func TestExactlyOneOutcomeUnderRacingEnds(t *testing.T) {
	h := newHarness(t)
	const n = 300
	var runs atomic.Int32
	for i := range n {
		// A Tracker each: Shutdown is terminal.
		tr := otelguard.New(otelguard.WithTracerProvider(h.tp))
		r := otelguard.Acquire(context.Background(), "x", i, func(context.Context, int) error { runs.Add(1); return nil }, otelguard.WithTracker(tr))
		var wg sync.WaitGroup
		wg.Go(func() { _ = r.Close(context.Background()) })
		wg.Go(func() { <-r.CloseAsync(context.Background()) })
		wg.Go(func() { _ = r.Detach() })
		wg.Go(func() { _ = tr.CloseAll(boundedCtx()) })
		wg.Go(func() { _ = tr.Shutdown(boundedCtx()) })
		wg.Wait()
		_ = tr.Flush(boundedCtx())
	}
	spans := h.ended("x")
	if len(spans) != n {
		t.Fatalf("%d spans for %d lifetimes", len(spans), n)
	}
	released := 0
	for _, s := range spans {
		switch o := attrs(s)[attrkey.Outcome].AsString(); o {
		case "cleaned":
			released++
		case "disarmed", "open_at_shutdown":
		default:
			t.Fatalf("unexpected outcome %q", o)
		}
	}
	// Shutdown may report a lifetime that a Close releases right after,
	// so releases >= cleaned spans; never more than one per lifetime.
	if int(runs.Load()) < released || int(runs.Load()) > n {
		t.Fatalf("releases %d, cleaned spans %d, lifetimes %d", runs.Load(), released, n)
	}
}

func TestPanicMessagesArePrefixed(t *testing.T) {
	tr := otelguard.New(otelguard.WithTracerProvider(noop.NewTracerProvider()))
	cases := map[string]func(){
		//otelguard:handoff panics on its nil cleanup: nothing is acquired
		"NewGuard nil cleanup": func() { otelguard.NewGuard(context.Background(), "g", nil, otelguard.WithTracker(tr)) },
		//otelguard:handoff panics on its nil cleanup: nothing is acquired
		"pkg NewGuard nil cleanup": func() { otelguard.NewGuard(context.Background(), "g", nil) },
		//otelguard:handoff panics on its nil release: nothing is acquired
		"Acquire nil release": func() { otelguard.Acquire[int](context.Background(), "r", 0, nil) },
		//otelguard:handoff panics on its nil value: nothing is acquired
		"Track nil value": func() { otelguard.Track[interface{ Close() error }](context.Background(), "t", nil) },
		//otelguard:handoff Defer panics on its nil cleanup: the scope is the test's only
		"Scope.Defer nil": func() { otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(tr)).Defer("d", nil) },
		//otelguard:handoff Add panics on its nil closer: the scope is the test's only
		"Scope.Add nil": func() { otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(tr)).Add(nil) },
		//otelguard:handoff panics on the nil Tracker: nothing is acquired
		"nil Tracker": func() { (*otelguard.Tracker)(nil).Live() },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				s, _ := r.(string)
				if !strings.HasPrefix(s, "otelguard: ") {
					t.Fatalf("panic %v, want an \"otelguard: \" message", r)
				}
			}()
			f()
		})
	}
	_ = tr.CloseAll(boundedCtx())
}

// One rule for every duration and count option: zero selects the
// default, a negative value turns the thing off. Bad names and contexts get
// defaults.
func TestSafeDefaultsForBadInput(t *testing.T) {
	h := newHarness(t,
		otelguard.WithCleanupTimeout(0),
		otelguard.WithStackDepth(0),
		otelguard.WithLeakSampling(0),
		nil,
	)
	g := otelguard.NewGuard(nil, "", nop, otelguard.WithTracker(h.tr)) //lint:ignore SA1012 bad input under test
	r := otelguard.Acquire(context.Background(), "", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr), otelguard.WithTracker(nil))
	sc := otelguard.NewScope(context.Background(), "", otelguard.WithTracker(h.tr))
	live := h.tr.Live()
	if len(live) != 3 || live[0].Name != "otelguard.guard" || live[1].Name != "otelguard.resource" || live[2].Name != "otelguard.scope" {
		t.Fatalf("default names: %+v", live)
	}
	if n := strings.Count(live[0].Stack, "\n") / 2; n == 0 {
		t.Error("zero stack depth did not select the default")
	}
	_ = g.Run()
	_ = r.Close(nil) //lint:ignore SA1012 bad input under test
	_ = sc.Close(context.Background())
	if n := len(h.rec.Ended()); n != 3 {
		t.Fatalf("%d spans", n)
	}
	// Negative: no stack; clamped above the bound.
	h0 := newHarness(t, otelguard.WithStackDepth(-1))
	g0 := otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(h0.tr))
	if h0.tr.Live()[0].Stack != "" {
		t.Error("negative depth captured a stack")
	}
	g0.Disarm()
	hBig := newHarness(t, otelguard.WithStackDepth(1<<20))
	gb := otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(hBig.tr))
	if n := strings.Count(hBig.tr.Live()[0].Stack, "\n") / 2; n > 128 {
		t.Errorf("%d frames kept, over the bound of 128", n)
	}
	gb.Disarm()
}

func TestLongNamesAreCut(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("é", 1<<19) // 1 MiB of two-byte runes
	g := otelguard.NewGuard(context.Background(), long, nop, otelguard.WithTracker(h.tr))
	_ = g.Run()
	s := h.rec.Ended()[0]
	if n := len(s.Name()); n > maxNameLength {
		t.Fatalf("name kept %d bytes", n)
	}
	if !strings.HasSuffix(s.Name(), "...") || !utf8.ValidString(s.Name()) {
		t.Fatalf("cut name %q is not a valid truncation", s.Name()[len(s.Name())-10:])
	}
}

// CloseAll returns by its deadline, always: the release it runs then ends
// timed_out at the deadline and goes on in the background (Flush waits
// for it); what it had not reached stays open, unclaimed, for its owner or
// a later CloseAll — which releases it newest first, a Guard with its own
// context's values.
func TestCloseAllIsBoundedByItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		hung := make(chan struct{})
		var log orderLog
		type key struct{}
		_ = otelguard.Acquire(context.Background(), "oldest.res", 0, func(ctx context.Context, _ int) error {
			log.add("oldest.res")
			if ctx.Err() != nil {
				t.Error("a release got a done context")
			}
			return nil
		}, otelguard.WithTracker(h.tr))
		gctx := context.WithValue(context.Background(), key{}, "guard's value")
		var seen any
		_ = otelguard.NewGuard(gctx, "guard", func(ctx context.Context) error {
			seen = ctx.Value(key{})
			log.add("guard")
			return nil
		}, otelguard.WithTracker(h.tr))
		_ = otelguard.Acquire(context.Background(), "stuck.res", 0, func(context.Context, int) error {
			<-hung
			log.add("stuck.res")
			return nil
		}, otelguard.WithTracker(h.tr))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := h.tr.CloseAll(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CloseAll = %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("CloseAll took %v, want its 1s deadline", d)
		}
		wantEnd(t, h.one(t, "stuck.res"), otelguard.OutcomeTimedOut, otelguard.TriggerShutdown)
		if live := h.tr.Live(); len(live) != 3 { // stuck.res runs on as a straggler
			t.Fatalf("Live = %+v, want the straggler and the two not reached", live)
		}
		close(hung)
		if err := h.tr.Flush(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		if err := h.tr.CloseAll(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"guard", "oldest.res"} {
			wantEnd(t, h.one(t, n), otelguard.OutcomeCleaned, otelguard.TriggerShutdown)
		}
		if want := []string{"stuck.res", "guard", "oldest.res"}; !slices.Equal(log.seq, want) {
			t.Fatalf("released %v, want newest first %v", log.seq, want)
		}
		if seen != "guard's value" {
			t.Errorf("guard cleanup ctx lost the guard's values: %v", seen)
		}
		if n := len(h.rec.Ended()); n != 3 {
			t.Fatalf("%d spans: the background release recorded more", n)
		}
		if live := h.tr.Live(); len(live) != 0 {
			t.Fatalf("Live = %+v", live)
		}
	})
}

// A Guard whose own context is done gets its cleanup detached, bounded by
// the cleanup timeout; CloseAll still returns by its own deadline. (Before
// the v1 contract it ran inline, bounded only by the 10s cleanup timeout,
// forever if the cleanup ignored its context.)
func TestCloseAllReturnsByDeadlineForAGuardWithADoneContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		gctx, gcancel := context.WithCancel(context.Background())
		unblock := make(chan struct{})
		_ = otelguard.NewGuard(gctx, "g", func(context.Context) error { <-unblock; return nil }, otelguard.WithTracker(h.tr))
		gcancel()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := h.tr.CloseAll(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CloseAll = %v", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Fatalf("CloseAll took %v, want 50ms", d)
		}
		close(unblock)
		if err := h.tr.Flush(boundedCtx()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestShutdownEndsOldestFirst: Shutdown walks the open lifetimes in
// acquire order (which also keeps its memory access sequential: see
// BenchmarkShutdownMillion), whatever registry shard each one sits in.
func TestShutdownEndsOldestFirst(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var want []string
	for i := range 100 {
		name := fmt.Sprintf("r%03d", i)
		want = append(want, name)
		r := otelguard.Acquire(ctx, name, i, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
		defer r.Close(ctx)
	}
	if err := h.tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range h.rec.Ended() {
		got = append(got, s.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Shutdown ended spans in order\n%v\nwant acquire order\n%v", got, want)
	}
}

// recordingTP is a TracerProvider other than the SDK's whose spans record
// but do not tell their start time.
type recordingTP struct{ noop.TracerProvider }

func (recordingTP) Tracer(string, ...trace.TracerOption) trace.Tracer { return recordingTracer{} }

type recordingTracer struct{ noop.Tracer }

func (recordingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	_, s := noop.Tracer{}.Start(ctx, name, opts...)
	s = recordingSpan{s}
	return trace.ContextWithSpan(ctx, s), s
}

type recordingSpan struct{ trace.Span }

func (recordingSpan) IsRecording() bool { return true }

// TestAcquiredAtWithASpanThatHasNoStartTime: with a recording span that
// does not tell its start time (a provider other than the SDK) and no
// metrics, Live still gives the acquire time, not the process's start
// (which made otelguardtest.IgnoreCurrent ignore every later lifetime).
func TestAcquiredAtWithASpanThatHasNoStartTime(t *testing.T) {
	tr := otelguard.New(otelguard.WithTracerProvider(recordingTP{}), otelguard.WithMeterProvider(metricnoop.NewMeterProvider()))
	before := time.Now()
	g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { return nil }, otelguard.WithTracker(tr))
	//otelguard:handoff the guard only puts a lifetime in Live(); its cleanup is not meant to run
	defer g.Disarm()
	after := time.Now()
	live := tr.Live()
	if len(live) != 1 {
		t.Fatalf("Live: %d lifetimes, want 1", len(live))
	}
	if at := live[0].AcquiredAt; at.Before(before.Add(-time.Millisecond)) || at.After(after.Add(time.Millisecond)) {
		t.Fatalf("AcquiredAt = %v, want between %v and %v", at, before, after)
	}
}
