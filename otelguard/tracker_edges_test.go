package otelguard_test

// The promises of the v1 contract that the core broke at its edges when it
// was tried from outside (issue 11). Each test says whether it failed
// before its fix; the others guard the other side of the same rule.

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// acquireAndDropTracker makes a Tracker, acquires under it, and keeps
// nothing: not the Tracker, not the handle. What the test keeps is its span
// recorder and metric reader, as a test or a service that keeps only its
// handles would.
//
//go:noinline
func acquireAndDropTracker(tp *sdktrace.TracerProvider, mp *sdkmetric.MeterProvider) {
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithMeterProvider(mp))
	//otelguard:handoff dropped on purpose, with its Tracker
	otelguard.Acquire(context.Background(), "orphan", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
}

// A Tracker with open lifetimes under leak detection stays alive until
// they end, whether or not the program references it: a leak of a dropped
// Tracker's lifetime is still reported (span and count), and its active
// count comes back down. (Before the fix the weak Tracker table let the
// Tracker go, and the report was silently skipped.)
func TestDroppedTrackerStillReportsItsLeaks(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(boundedCtx())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(boundedCtx())

	acquireAndDropTracker(tp, mp)
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.Ended()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no span ended within 10s of collections: the dropped Tracker's leak was lost")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	spans := withoutFindings(rec.Ended())
	if len(spans) != 1 || spans[0].Name() != "orphan" {
		t.Fatalf("ended %v", names(spans))
	}
	wantEnd(t, spans[0], otelguard.OutcomeLeaked, otelguard.TriggerGC)

	m := (&metricHarness{reader: reader}).collect(t)
	kv := []attribute.KeyValue{attrkey.Kind.String("resource"), attrkey.Name.String("orphan")}
	if n, _ := sumPoint[int64](t, m[attrkey.MetricEnded], set(append(kv, attrkey.Outcome.String(string(otelguard.OutcomeLeaked)))...)); n != 1 {
		t.Errorf("%s{leaked_without_close} = %d, want 1", attrkey.MetricEnded, n)
	}
	if n, _ := sumPoint[int64](t, m[attrkey.MetricActive], set(kv...)); n != 0 {
		t.Errorf("%s = %d after the leak was reported, want 0", attrkey.MetricActive, n)
	}
}

// A Tracker lives from New until Shutdown: one shut down, with nothing
// open and no longer referenced, is collected — the table that keeps it
// alive lets it go.
func TestShutDownTrackerIsCollected(t *testing.T) {
	collected := make(chan struct{})
	func() {
		tr := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider()))
		r := otelguard.Acquire(context.Background(), "r", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
		_ = r.Close(context.Background())
		_ = tr.Shutdown(boundedCtx())
		runtime.AddCleanup(tr, func(ch chan struct{}) { close(ch) }, collected)
	}()
	for i := 0; ; i++ {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-time.After(time.Millisecond):
		}
		if i == 1000 {
			t.Fatal("a shut-down Tracker with nothing open was not collected after 1000 collections")
		}
	}
}

// begin used to arm the hold timer before the lifetime's flags were final
// and before it was registered: with a hold threshold of a nanosecond and
// CloseOnCancel, the race detector reported the flags written while the
// timer read them.
func TestHoldTimerRacesNothingAtAcquire(t *testing.T) {
	h := newHarness(t, otelguard.WithDefaultHoldThreshold(time.Nanosecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				r := otelguard.Acquire(ctx, "held", w*500+i, func(context.Context, int) error { return nil },
					otelguard.WithTracker(h.tr), otelguard.CloseOnCancel())
				if i%2 == 0 {
					_ = r.Close(context.Background())
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := h.tr.Flush(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.ended("held")); n != 2000 {
		t.Fatalf("%d spans for 2000 lifetimes", n)
	}
}

// Flush and Shutdown wait only for work on the library's own goroutines,
// never for a Close running on a caller's goroutine: here a CloseOnCancel
// lifetime's context is cancelled while the caller's Close is in its
// release. (Before the fix Flush waited for that Close, and a caller that
// waited on the Flush deadlocked.)
func TestFlushDoesNotWaitForACallersClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		inRelease := make(chan struct{})
		unblock := make(chan struct{})
		r := otelguard.Acquire(ctx, "conn", 0, func(context.Context, int) error {
			close(inRelease)
			<-unblock
			return nil
		}, otelguard.WithTracker(h.tr), otelguard.CloseOnCancel())
		closed := make(chan error, 1)
		go func() { closed <- r.Close(context.Background()) }()
		<-inRelease
		cancel() // the watch finds the release claimed by the caller
		start := time.Now()
		if err := h.tr.Flush(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		fctx, fcancel := context.WithTimeout(context.Background(), time.Second)
		defer fcancel()
		if err := h.tr.Shutdown(fctx); err != nil {
			t.Fatalf("Shutdown = %v: it waited for a caller's Close", err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Flush and Shutdown took %v of fake time, want none", d)
		}
		close(unblock)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		wantEnd(t, h.one(t, "conn"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	})
}

// ---------------------------------------------------------------------------
// testing/synctest bubbles: the library never touches a bubble's channels
// or timers from outside it. Each of these crashed the test binary with a
// fatal error ("stop of synctest timer from outside bubble", "close of
// synctest channel from outside bubble") before the fix.

//go:noinline
func dropHeld(tr *otelguard.Tracker, opts ...otelguard.AcquireOption) {
	//otelguard:handoff dropped on purpose: the bubble's leak
	otelguard.Acquire(context.Background(), "held", 0, func(context.Context, int) error { return nil },
		append(opts, otelguard.WithTracker(tr))...)
}

// A GC-found leak of a lifetime with a hold threshold, acquired in a
// bubble: its timer belongs to the bubble, the leak report runs outside.
func TestBubbleLeakWithHoldThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, otelguard.WithDefaultHoldThreshold(time.Hour))
		dropHeld(h.tr)
		collectLeaks(t, h.tr, 1)
		wantEnd(t, h.one(t, "held"), otelguard.OutcomeLeaked, otelguard.TriggerGC)
	})
}

// Waiting inside a bubble for work done outside it (a leak report), and
// for work done inside it (a release sleeping in fake time), in one Flush.
func TestBubbleFlushWaitsForWorkInsideAndOutside(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		_ = otelguard.Acquire(ctx, "sleeper", 0, func(context.Context, int) error { time.Sleep(time.Hour); return nil },
			otelguard.WithTracker(h.tr), otelguard.CloseOnCancel())
		dropHeld(h.tr)
		cancel()
		start := time.Now()
		for i := 0; bridge.LeakCount(h.tr) == 0; i++ {
			if i == 1000 {
				t.Fatal("the leak was not found in 1000 collections")
			}
			runtime.GC()
			if err := h.tr.Flush(boundedCtx()); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("Flush returned after %v of fake time, want exactly the sleeper's hour", d)
		}
		wantEnd(t, h.one(t, "sleeper"), otelguard.OutcomeCleaned, otelguard.TriggerCancel)
		wantEnd(t, h.one(t, "held"), otelguard.OutcomeLeaked, otelguard.TriggerGC)
	})
}

// ReleaseOnLeak for a lifetime acquired in a bubble: the runtime runs leak
// cleanups outside every bubble, and a release that cancels the bubble's
// context from there is a fatal error. Such a lifetime is reported leaked
// without its release (otelguard.leak.released=false) and stays open,
// Leaked in Live, for CloseAll inside the bubble to release.
func TestBubbleReleaseOnLeakWaitsForCloseAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		bctx, bcancel := context.WithCancel(t.Context())
		_ = bctx.Done() // the bubble's channel exists: closing it from outside is fatal
		var released atomic.Int32
		var trig otelguard.Trigger
		func() {
			//otelguard:handoff dropped on purpose: its release is left to the bubble
			otelguard.Acquire(context.Background(), "fd", 0, func(ctx context.Context, _ int) error {
				bcancel() // closes a channel of the bubble
				trig, _ = otelguard.ReleaseTrigger(ctx)
				released.Add(1)
				return nil
			}, otelguard.WithTracker(h.tr), otelguard.ReleaseOnLeak())
		}()
		collectLeaks(t, h.tr, 1)
		a := wantEnd(t, h.one(t, "fd"), otelguard.OutcomeLeaked, otelguard.TriggerGC)
		if a[attrkey.LeakReleased].AsBool() || released.Load() != 0 {
			t.Fatalf("released %d times, leak.released=%v: want the release left to the bubble", released.Load(), a[attrkey.LeakReleased])
		}
		if live := h.tr.Live(); len(live) != 1 || !live[0].Leaked {
			t.Fatalf("Live = %+v, want the leaked lifetime waiting", live)
		}
		if err := h.tr.CloseAll(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		if released.Load() != 1 || bctx.Err() == nil {
			t.Fatalf("CloseAll in the bubble released %d times", released.Load())
		}
		if trig != otelguard.TriggerGC {
			// A release that does more when its handle is garbage (guardsql
			// closes dropped rows itself) must be told, or it waits for a
			// caller that will never come.
			t.Errorf("ReleaseTrigger in the release CloseAll ran for the leaked lifetime = %q, want %q", trig, otelguard.TriggerGC)
		}
		if n := len(h.ended("fd")); n != 1 {
			t.Fatalf("%d spans", n)
		}
	})
}

// Inside a bubble a lifetime's clock is the bubble's: its AcquiredAt is
// the fake time, and its duration is fake time too. (A guard.)
func TestBubbleLifetimesUseTheBubblesClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newMetricHarness(t)
		start := time.Now()
		r := otelguard.Acquire(context.Background(), "r", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
		if got := h.tr.Live()[0].AcquiredAt; !got.Equal(start) {
			t.Errorf("AcquiredAt = %v, want the bubble's %v", got, start)
		}
		time.Sleep(3 * time.Second)
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		hist, ok := h.collect(t)[attrkey.MetricLifetimeDuration].Data.(metricdata.Histogram[float64])
		if !ok || len(hist.DataPoints) != 1 || hist.DataPoints[0].Sum != 3 {
			t.Fatalf("%s = %+v, want one lifetime of 3s", attrkey.MetricLifetimeDuration, hist)
		}
	})
}
