package otelguard_test

// A Tracker lives from New until Shutdown; after Shutdown, watched
// lifetimes keep their leak detection and ReleaseOnLeak runs,
// deterministically, whatever the program references (v1: it depended on
// whether the program still referenced the Tracker, and for a lifetime
// acquired after Shutdown the release never ran).

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

// waitReleased forces collections until released is closed.
func waitReleased(t *testing.T, released <-chan struct{}) {
	t.Helper()
	for range 200 {
		runtime.GC()
		select {
		case <-released:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatal("the ReleaseOnLeak release never ran")
}

// Acquired after Shutdown, Tracker and handle both dropped.
func TestReleaseOnLeakAcquiredAfterShutdownRunsWithTheTrackerDropped(t *testing.T) {
	released := make(chan struct{})
	func() {
		tr := otelguard.New()
		if err := tr.Shutdown(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		//otelguard:handoff dropped on purpose
		otelguard.Acquire(context.Background(), "late", 0, func(context.Context, int) error {
			close(released)
			return nil
		}, otelguard.WithTracker(tr), otelguard.ReleaseOnLeak())
	}()
	waitReleased(t, released)
}

// Acquired before Shutdown, reported open_at_shutdown, then the Tracker
// and the handle dropped: leak detection still finds it and releases it.
func TestReleaseOnLeakAcquiredBeforeShutdownRunsWithTheTrackerDropped(t *testing.T) {
	released := make(chan struct{})
	var h *harness
	func() {
		h = newHarness(t)
		//otelguard:handoff dropped on purpose
		otelguard.Acquire(context.Background(), "early", 0, func(context.Context, int) error {
			close(released)
			return nil
		}, otelguard.WithTracker(h.tr), otelguard.ReleaseOnLeak())
		if err := h.tr.Shutdown(boundedCtx()); err != nil {
			t.Fatal(err)
		}
		h.tr = nil // the test keeps only the recorder
	}()
	waitReleased(t, released)
	wantEnd(t, h.one(t, "early"), otelguard.OutcomeOpenAtShutdown, otelguard.TriggerShutdown)
}

// A Tracker nobody references, never shut down, still reports its leaks.
func TestAnUnreferencedTrackerStillReportsItsLeaks(t *testing.T) {
	h := newHarness(t)
	func() {
		tr := otelguard.New(otelguard.WithTracerProvider(h.tp))
		//otelguard:handoff dropped on purpose
		otelguard.Acquire(context.Background(), "orphan", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
	}()
	for i := 0; i < 200 && len(h.ended("orphan")) == 0; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	wantEnd(t, h.one(t, "orphan"), otelguard.OutcomeLeaked, otelguard.TriggerGC)
}
