package otelguard

import (
	"context"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
)

// TestLeakKeyOfAReusedSlotFindsNothing: a leak cleanup finds its lifetime
// by Tracker ID, registry slot and sequence number. When CloseAll ended a
// lifetime without its handle (so the handle's cleanup is still armed) and
// another lifetime took over the freed slot, the first handle's cleanup
// must not report the second lifetime.
func TestLeakKeyOfAReusedSlotFindsNothing(t *testing.T) {
	tr := New(WithTracerProvider(noop.NewTracerProvider()))
	ctx := context.Background()
	rel := func(context.Context, int) error { return nil }
	a := Acquire(ctx, "a", 0, rel, WithTracker(tr))
	ka := a.l.key()
	if err := tr.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	// The next lifetime in a's shard takes a's slot.
	var b *Resource[int]
	var others []*Resource[int]
	for b == nil {
		r := Acquire(ctx, "b", 0, rel, WithTracker(tr))
		if r.l.seq%registryShards == ka.seq%registryShards {
			b = r
		} else {
			others = append(others, r)
		}
	}
	kb := b.l.key()
	if kb.tracker != ka.tracker || kb.slot != ka.slot || kb.seq == ka.seq {
		t.Fatalf("keys %+v and %+v: want the same Tracker and slot, other sequence numbers", ka, kb)
	}
	if l := tr.reg.lookup(ka.seq, ka.slot); l != nil {
		t.Fatalf("a's key finds %q", l.name)
	}
	if l := tr.reg.lookup(kb.seq, kb.slot); l != b.l {
		t.Fatalf("b's key finds %v, want b", l)
	}
	// What the runtime does when a's handle is collected: nothing to report.
	leakCleanupKey(ka)
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tr.leaks.missed.leaks.Load(); n != 0 {
		t.Fatalf("LeakCount = %d after a's stale key fired; want 0", n)
	}
	if !b.l.registered {
		t.Fatal("b was unregistered by a's stale key")
	}
	_ = b.Close(ctx)
	for _, r := range others {
		_ = r.Close(ctx)
	}
	runtime.KeepAlive(a)
}

// TestLeakKeyOfAGoneTrackerFindsNothing: a key whose Tracker was shut down
// and retired names nothing, and firing it does nothing. (A Tracker lives
// from New until Shutdown: the table lets it go only then, once nothing it
// watches is open.)
func TestLeakKeyOfAGoneTrackerFindsNothing(t *testing.T) {
	k := func() leakKey {
		tr := New(WithTracerProvider(noop.NewTracerProvider()))
		g := NewGuard(context.Background(), "g", func(context.Context) error { return nil }, WithTracker(tr))
		k := g.l.key()
		g.Disarm()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		return k
	}()
	if trackerByID(k.tracker) != nil {
		t.Fatal("a shut-down Tracker with nothing open is still in the table")
	}
	leakCleanupKey(k) // must not panic
}
