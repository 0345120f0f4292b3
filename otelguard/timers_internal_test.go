package otelguard

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// The hold timer reaches its lifetime only until the lifetime ends: a
// stopped timer stays in the runtime's timer heap until the runtime
// removes it, and held the lifetime, its span and its Tracker until then
// (found by TestStressDroppedTrackers: Trackers with a hold threshold and
// nothing open were not collected). The CloseOnCancel watch, whose stop
// function reaches the lifetime too, is let go as well.
func TestEndedLifetimeTimersLetGo(t *testing.T) {
	tr := New(WithDefaultHoldThreshold(time.Hour))
	defer tr.Shutdown(context.Background())
	nop := func(context.Context, int) error { return nil }

	r := Acquire(context.Background(), "closed", 0, nop, WithTracker(tr))
	if r.l.x.Load().held.Load() == nil {
		t.Fatal("an open lifetime's hold timer has nothing to report")
	}
	_ = r.Close(context.Background())
	if r.l.x.Load().held.Load() != nil {
		t.Error("a closed lifetime's hold timer still reaches it")
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := Acquire(ctx, "cancelled", 0, nop, WithTracker(tr), CloseOnCancel())
	cancel()
	if !letGo(c.l) {
		t.Errorf("a cancelled lifetime's timers still reach it: hold %v, watch %v", c.l.x.Load().held.Load() != nil, c.l.x.Load().watch.Load() != nil)
	}
}

// A CloseOnCancel lifetime whose ctx is done before the acquire returns
// may be released, and finished, before its timers are armed; they must
// be stopped all the same (before the fix a race left the hour-long hold
// timer armed, holding the lifetime and its Tracker).
func TestTimersArmedAfterTheEndAreStopped(t *testing.T) {
	tr := New(WithDefaultHoldThreshold(time.Hour))
	defer tr.Shutdown(context.Background())
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 1000 {
		r := Acquire(done, "early", 0, func(context.Context, int) error { return nil }, WithTracker(tr), CloseOnCancel())
		if !letGo(r.l) {
			t.Fatalf("acquire %d: ended during its acquire, its timers still reach it", i)
		}
	}
}

// letGo waits, bounded, until l's timers no longer reach it: its release
// runs on CloseOnCancel's goroutine, which stops the timers after marking
// it finished.
func letGo(l *lifetime) bool {
	deadline := time.Now().Add(5 * time.Second)
	for l.x.Load().held.Load() != nil || l.x.Load().watch.Load() != nil {
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
	return l.finished()
}
