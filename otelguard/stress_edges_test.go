package otelguard_test

// Stress at the edges issue 11 moved the contract to: Trackers the program
// drops while their lifetimes are open, and lifetimes inside
// testing/synctest bubbles. The promises are tested one at a time in
// tracker_edges_test.go; here many goroutines keep them at once.

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// droppedPlan is what churnDropped does with Tracker i, and so which
// spans it must end with: every Tracker closes three resources, runs a
// guard and cancels a CloseOnCancel resource; all but every fifth also
// drop three resources (the first with ReleaseOnLeak) and a guard. Every
// third has a hold threshold, whose timers the leak reports must stop.
func droppedPlan(i int) (clean, leaks int) {
	if i%5 == 0 {
		return 5, 0
	}
	return 5, 4
}

// churnDropped makes Tracker i, uses it as droppedPlan says, and keeps
// nothing of it: what outlives the call is the spans, the metrics, the
// released counter.
//
//go:noinline
func churnDropped(tp *sdktrace.TracerProvider, mp *sdkmetric.MeterProvider, i int, released *atomic.Int64) {
	opts := []otelguard.Option{otelguard.WithTracerProvider(tp), otelguard.WithMeterProvider(mp)}
	if i%3 == 0 {
		opts = append(opts, otelguard.WithDefaultHoldThreshold(time.Hour))
	}
	tr := otelguard.New(opts...)
	ctx := context.Background()
	nop := func(context.Context, int) error { return nil }
	for j := range 3 {
		r := otelguard.Acquire(ctx, fmt.Sprintf("clean/%d/%d", i, j), j, nop, otelguard.WithTracker(tr))
		_ = r.Close(ctx)
	}
	g := otelguard.NewGuard(ctx, fmt.Sprintf("clean/%d/guard", i), func(context.Context) error { return nil }, otelguard.WithTracker(tr))
	_ = g.Run()
	cctx, cancel := context.WithCancel(ctx)
	//otelguard:handoff the context owns the release: cancel ends it
	otelguard.Acquire(cctx, fmt.Sprintf("clean/%d/cancel", i), 0, nop, otelguard.WithTracker(tr), otelguard.CloseOnCancel())
	cancel()
	if _, leaks := droppedPlan(i); leaks == 0 {
		return
	}
	for j := range 3 {
		ao := []otelguard.AcquireOption{otelguard.WithTracker(tr)}
		if j == 0 {
			ao = append(ao, otelguard.ReleaseOnLeak())
		}
		//otelguard:handoff dropped on purpose, with its Tracker
		otelguard.Acquire(ctx, fmt.Sprintf("leak/%d/%d", i, j), j, func(context.Context, int) error {
			released.Add(1)
			return nil
		}, ao...)
	}
	//otelguard:handoff dropped on purpose, with its Tracker
	otelguard.NewGuard(ctx, fmt.Sprintf("leak/%d/guard", i), func(context.Context) error { return nil }, otelguard.WithTracker(tr))
}

// TestStressDroppedTrackers: goroutines make Trackers, acquire under them,
// and drop them with lifetimes open, never shut down, while another
// goroutine collects all along. A Tracker lives from New until Shutdown
// whatever the program references: every lifetime ends exactly once with
// the outcome its path gives (no leak is lost with its Tracker), every
// ReleaseOnLeak release runs once, and the active gauge comes back to
// zero. (TestShutDownTrackerIsCollected checks that Shutdown lets go.)
func TestStressDroppedTrackers(t *testing.T) {
	workers, perWorker := 8, 25
	if testing.Short() {
		perWorker = 5
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(boundedCtx())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(boundedCtx())

	var released atomic.Int64
	stop := make(chan struct{})
	collector := make(chan struct{})
	go func() {
		defer close(collector)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range perWorker {
				churnDropped(tp, mp, w*perWorker+k, &released)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-collector

	trackers := workers * perWorker
	var wantSpans, wantLeaks, wantReleased int
	for i := range trackers {
		clean, leaks := droppedPlan(i)
		wantSpans += clean + leaks
		wantLeaks += leaks
		if leaks > 0 {
			wantReleased++
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(withoutFindings(rec.Ended())) < wantSpans {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d spans ended after 30s of collections: the leaks of dropped Trackers were lost", len(withoutFindings(rec.Ended())), wantSpans)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}

	seen := map[string]int{}
	for _, s := range rec.Ended() {
		name := s.Name()
		if isFinding(name) {
			continue // findings_test.go checks them
		}
		seen[name]++
		a := attrs(s)
		o := otelguard.Outcome(a[attrkey.Outcome].AsString())
		switch {
		case strings.HasPrefix(name, "clean/"):
			if o != otelguard.OutcomeCleaned {
				t.Errorf("%s: outcome %s, want cleaned", name, o)
			}
		case strings.HasPrefix(name, "leak/"):
			if o != otelguard.OutcomeLeaked {
				t.Errorf("%s: outcome %s, want %s", name, o, otelguard.OutcomeLeaked)
			}
			wantRel := strings.HasSuffix(name, "/0")
			if got := a[attrkey.LeakReleased].AsBool(); got != wantRel {
				t.Errorf("%s: leak.released=%v, want %v", name, got, wantRel)
			}
		default:
			t.Errorf("unexpected span %q", name)
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s: %d spans, want 1", name, n)
		}
	}
	if len(seen) != wantSpans {
		t.Errorf("%d lifetimes ended, want %d", len(seen), wantSpans)
	}

	// The releases run on the Tracker's goroutine after the span ends.
	for deadline := time.Now().Add(10 * time.Second); released.Load() < int64(wantReleased); {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if got := released.Load(); got != int64(wantReleased) {
		t.Errorf("%d ReleaseOnLeak releases ran, want %d", got, wantReleased)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var active, leaked int64
	leakedSet := attrkey.Outcome.String(string(otelguard.OutcomeLeaked))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				switch m.Name {
				case attrkey.MetricActive:
					active += dp.Value
				case attrkey.MetricEnded:
					if v, ok := dp.Attributes.Value(attrkey.Outcome); ok && v == leakedSet.Value {
						leaked += dp.Value
					}
				}
			}
		}
	}
	if active != 0 {
		t.Errorf("%s sums to %d once every lifetime ended, want 0", attrkey.MetricActive, active)
	}
	if leaked != int64(wantLeaks) {
		t.Errorf("%s{%s} sums to %d, want %d", attrkey.MetricEnded, otelguard.OutcomeLeaked, leaked, wantLeaks)
	}
}

// bubbleOps are what TestStressInBubble's workers do, one per iteration in
// turn; want is the outcome and trigger each must end with.
var bubbleOps = [...]struct {
	name    string
	outcome otelguard.Outcome
	trigger otelguard.Trigger
}{
	{"close", otelguard.OutcomeCleaned, otelguard.TriggerClose},
	{"close-deadline", otelguard.OutcomeTimedOut, otelguard.TriggerClose},
	{"async-straggler", otelguard.OutcomeTimedOut, otelguard.TriggerClose},
	{"cancel", otelguard.OutcomeCleaned, otelguard.TriggerCancel},
	{"guard", otelguard.OutcomeCleaned, otelguard.TriggerDefer},
	{"disarm", otelguard.OutcomeDisarmed, otelguard.TriggerDisarm},
	{"scope", otelguard.OutcomeCleaned, otelguard.TriggerClose},
	{"held", otelguard.OutcomeCleaned, otelguard.TriggerClose},
	{"dropped", otelguard.OutcomeLeaked, otelguard.TriggerGC},
	{"dropped-release", otelguard.OutcomeLeaked, otelguard.TriggerGC},
}

// bubbleOp runs op k of bubbleOps as lifetime name under tr. Everything it
// waits for is the bubble's fake time.
//
//go:noinline
func bubbleOp(tr *otelguard.Tracker, k int, name string, released *atomic.Int64) {
	ctx := context.Background()
	count := func(context.Context, int) error { released.Add(1); return nil }
	with := otelguard.WithTracker(tr)
	switch bubbleOps[k].name {
	case "close":
		r := otelguard.Acquire(ctx, name, 0, count, with)
		_ = r.Close(ctx)
	case "close-deadline": // the release honours its ctx: Close returns at the deadline
		r := otelguard.Acquire(ctx, name, 0, func(ctx context.Context, _ int) error {
			released.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}, with)
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = r.Close(dctx)
		cancel()
	case "async-straggler": // the release ignores its ctx: CloseAsync gives up at the deadline
		r := otelguard.Acquire(ctx, name, 0, func(context.Context, int) error {
			time.Sleep(time.Second)
			released.Add(1)
			return nil
		}, with)
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		<-r.CloseAsync(dctx)
		cancel()
	case "cancel":
		cctx, cancel := context.WithCancel(ctx)
		//otelguard:handoff the context owns the release: cancel ends it
		otelguard.Acquire(cctx, name, 0, count, with, otelguard.CloseOnCancel())
		time.Sleep(10 * time.Millisecond)
		cancel()
	case "guard":
		g := otelguard.NewGuard(ctx, name, func(context.Context) error { released.Add(1); return nil }, otelguard.WithTracker(tr))
		_ = g.Run()
	case "disarm":
		g := otelguard.NewGuard(ctx, name, func(context.Context) error { released.Add(1); return nil }, otelguard.WithTracker(tr))
		g.Disarm()
	case "scope":
		sc := otelguard.NewScope(ctx, name, otelguard.WithTracker(tr))
		sc.Defer(name+"/deferred", func(context.Context) error { released.Add(1); return nil })
		sc.Add(otelguard.Acquire(ctx, name+"/added", 0, count, with))
		_ = sc.Close(ctx)
	case "held": // past the Tracker's hold threshold of a second, in fake time
		r := otelguard.Acquire(ctx, name, 0, count, with)
		time.Sleep(2 * time.Second)
		_ = r.Close(ctx)
	case "dropped":
		//otelguard:handoff dropped on purpose: the leak the test wants found
		otelguard.Acquire(ctx, name, 0, count, with)
	case "dropped-release": // found outside the bubble, released by CloseAll inside it
		//otelguard:handoff dropped on purpose: the leak the test wants found
		otelguard.Acquire(ctx, name, 0, count, with, otelguard.ReleaseOnLeak())
	}
}

// TestStressInBubble: many goroutines of one testing/synctest bubble end
// lifetimes by every path whose timing is fake time (Close at a deadline,
// CloseAsync's stragglers, CloseOnCancel, hold thresholds, scopes) while
// the runtime finds their dropped handles outside the bubble. No fatal
// error (a bubble's timer or channel touched from outside), every lifetime
// ends exactly once with its path's outcome, every release runs once but
// the disarmed guards', Flush waits for the stragglers, and what was left
// to the bubble (ReleaseOnLeak) is released by CloseAll inside it.
func TestStressInBubble(t *testing.T) {
	workers, perWorker := 8, 60
	if testing.Short() {
		perWorker = 20
	}
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, otelguard.WithDefaultHoldThreshold(time.Second))
		var released atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					k := (w + i) % len(bubbleOps)
					bubbleOp(h.tr, k, fmt.Sprintf("%s/%d/%d", bubbleOps[k].name, w, i), &released)
				}
			})
		}
		wg.Wait()

		want := map[string]int{}
		for w := range workers {
			for i := range perWorker {
				want[bubbleOps[(w+i)%len(bubbleOps)].name]++
			}
		}
		dropped := int64(want["dropped"] + want["dropped-release"])
		for i := 0; bridge.LeakCount(h.tr) < dropped; i++ {
			if i == 1000 {
				t.Fatalf("%d of %d dropped handles found in 1000 collections", bridge.LeakCount(h.tr), dropped)
			}
			runtime.GC()
			if err := h.tr.Flush(boundedCtx()); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.tr.Flush(boundedCtx()); err != nil { // the stragglers
			t.Fatal(err)
		}
		if live := h.tr.Live(); len(live) != want["dropped-release"] {
			t.Errorf("%d lifetimes open before CloseAll, want the %d leaked ones left to the bubble", len(live), want["dropped-release"])
		}
		if err := h.tr.CloseAll(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		if err := h.tr.Shutdown(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		if live := h.tr.Live(); len(live) != 0 {
			t.Fatalf("%d lifetimes open at the end, first %+v", len(live), live[0])
		}

		// Every release ran once, but the disarmed guards' and the dropped
		// handles' without ReleaseOnLeak; a scope releases two members.
		wantReleased := int64(0)
		for name, n := range want {
			switch name {
			case "disarm", "dropped":
			case "scope":
				wantReleased += int64(2 * n)
			default:
				wantReleased += int64(n)
			}
		}
		if got := released.Load(); got != wantReleased {
			t.Errorf("%d releases ran, want %d", got, wantReleased)
		}

		seen := map[string]int{}
		got := map[string]int{}
		for _, s := range h.rec.Ended() {
			seen[s.Name()]++
			op, _, _ := strings.Cut(s.Name(), "/")
			a := attrs(s)
			o := otelguard.Outcome(a[attrkey.Outcome].AsString())
			tg := otelguard.Trigger(a[attrkey.Trigger].AsString())
			if strings.Count(s.Name(), "/") == 3 { // a scope's member
				if o != otelguard.OutcomeCleaned || tg != otelguard.TriggerScope {
					t.Errorf("%s: %s/%s, want %s/%s", s.Name(), o, tg, otelguard.OutcomeCleaned, otelguard.TriggerScope)
				}
				continue
			}
			got[op]++
			for _, bo := range bubbleOps {
				if bo.name == op && (o != bo.outcome || tg != bo.trigger) {
					t.Errorf("%s: %s/%s, want %s/%s", s.Name(), o, tg, bo.outcome, bo.trigger)
				}
			}
			if op == "held" && !hasEvent(s, attrkey.EventHoldExceeded) {
				t.Errorf("%s: held 2s past a 1s threshold, no %s event", s.Name(), attrkey.EventHoldExceeded)
			}
		}
		for name, n := range seen {
			if n != 1 {
				t.Errorf("%s: %d spans, want 1", name, n)
			}
		}
		for op, n := range want {
			if got[op] != n {
				t.Errorf("%s: %d lifetimes ended, want %d", op, got[op], n)
			}
		}
	})
}

func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	for _, e := range s.Events() {
		if e.Name == name {
			return true
		}
	}
	return false
}
