package otelguard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Leak detection. A handle (Guard, Resource, Scope) gets a runtime cleanup
// whose argument is a key to the handle's lifetime (see leakKey). The
// lifetime holds the span, the acquire stack, the value and the release,
// and never the handle, so the handle can become unreachable while the
// lifetime is registered.
//
// The cleanup runs on the runtime's cleanup goroutine, which must not be
// held up: a synchronous span processor could block in span.End. So the
// cleanup only queues the lifetime; a goroutine of the Tracker's own,
// started when there is work and gone when there is none, reports it.

// leakRecordsKept is how many of the most recent leaks Leaks returns.
const leakRecordsKept = 256

// LeakRecord describes a lifetime found leaked: its handle became
// unreachable before anything ended it.
type LeakRecord struct {
	// ID identifies the lifetime within its Tracker: its acquire order, as
	// LiveLifetime.ID while it was open.
	ID         uint64
	Name       string
	Kind       Kind
	AcquiredAt time.Time
	FoundAt    time.Time
	// Stack is the acquire stack in the format of a Go traceback; empty
	// when stacks are not captured.
	Stack string
	// Released is true when ReleaseOnLeak ran the release.
	Released bool
	// Touches are the last access points Resource.Touch recorded
	// (LeakDetectionParanoid), oldest first.
	Touches []AccessRecord
}

type leakBook struct {
	mu      sync.Mutex
	queue   []*lifetime
	running bool

	total  atomic.Int64
	ringMu sync.Mutex
	ring   []LeakRecord // the most recent leakRecordsKept, oldest first
}

// leakKey is the argument of the runtime cleanup attached to every handle:
// plain numbers that find the handle's lifetime in its Tracker's registry.
// It holds no pointer, so nothing reachable from it reaches the handle
// (GODEBUG=checkfinalizers=1 checks it): a strong pointer to the lifetime
// would reach, through its Tracker and the registry, every handle another
// open lifetime holds (a Scope's members, a value holding another handle),
// and its span and the SDK behind it. A weak pointer would do too, but
// weak.Make costs an allocation and a runtime lock per lifetime; this costs
// neither.
type leakKey struct {
	tracker uint32 // see trackers
	slot    uint32 // the lifetime's registry slot
	seq     uint64 // its sequence number: a reused slot does not match
}

// key returns the leak key of a registered lifetime.
func (l *lifetime) key() leakKey {
	return leakKey{tracker: l.t.trackerID(), slot: l.slot, seq: l.seq}
}

// leakCleanupKey is the runtime cleanup attached to every handle. A lifetime
// no longer registered was finished (its release ran or never will): there
// is nothing to report.
func leakCleanupKey(k leakKey) {
	t := trackerByID(k.tracker)
	if t == nil {
		return
	}
	if l := t.reg.lookup(k.seq, k.slot); l != nil {
		t.queueLeak(l)
	}
}

// queueLeak queues the report of a lifetime whose handle is unreachable.
func (t *Tracker) queueLeak(l *lifetime) {
	t.flight.addOutside() // Flush, Shutdown and otelguardtest.Find wait for the report
	b := &t.leaks
	b.mu.Lock()
	b.queue = append(b.queue, l)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go t.reportLeaks()
	}
}

func (t *Tracker) reportLeaks() {
	b := &t.leaks
	for {
		b.mu.Lock()
		q := b.queue
		b.queue = nil
		if len(q) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		for _, l := range q {
			l.reportLeak()
			t.flight.doneOutside()
		}
	}
}

// reportLeak ends a lifetime whose handle was found unreachable (or, for a
// Scope's member guard, whose scope's was).
//
// With ReleaseOnLeak the release runs, on a goroutine of the library's
// own. Not for a lifetime acquired inside a testing/synctest bubble: the
// runtime runs leak cleanups outside every bubble, and a release touching
// the bubble's channels, timers or contexts from there is a fatal error
// nothing can recover from. Such a lifetime is reported leaked (with
// otelguard.leak.released=false) and stays open, marked Leaked in Live,
// for CloseAll — called inside the bubble, as t.Cleanup functions of a
// bubble's test are — to release, its ReleaseTrigger gc.
func (l *lifetime) reportLeak() {
	releaseIt := l.flags&flReleaseOnLeak != 0
	if releaseIt && l.flags&flBubble != 0 {
		if _, ok := l.update(stReported|stLeaked, stReported|stClaimed); ok {
			l.endLeaked(false, -1)
			l.t.recordLeak(l, false)
		}
		return
	}
	set := stClaimed | stReported | stLeaked
	if releaseIt {
		set |= stLibrary
	}
	old, ok := l.update(set, stClaimed)
	if !ok {
		return // ended by something else meanwhile
	}
	report := old&stReported == 0 // else Shutdown reported it: still a leak
	if releaseIt {
		// Detached from the acquire context and bounded: nobody waits for
		// this release but Flush and Shutdown.
		r := release{l: l, trig: TriggerGC, flights: 1, detached: true, leak: true, report: report}
		l.t.flight.addOutside()
		go func() {
			defer l.t.flight.doneOutside()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), l.t.cleanupTimeout())
			defer cancel()
			reportPanic(l, r.run(ctx))
			l.t.recordLeak(l, true)
		}()
		return
	}
	defer l.finish()
	if l.kind == kScope {
		// The scope's release will not run: its members leak with it.
		l.rel.(*scopeState).leaked()
	}
	if report {
		l.endLeaked(false, -1)
	}
	// After the span ended (Leaks lists ended spans only).
	l.t.recordLeak(l, false)
}

func (t *Tracker) recordLeak(l *lifetime, released bool) {
	t.leaks.total.Add(1)
	r := LeakRecord{
		ID:         l.seq,
		Name:       l.name,
		Kind:       kindNames[l.kind],
		AcquiredAt: l.acquireTime(),
		FoundAt:    time.Now(),
		Stack:      l.stackText(),
		Released:   released,
		Touches:    l.touches(),
	}
	b := &t.leaks
	b.ringMu.Lock()
	if len(b.ring) == leakRecordsKept {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:leakRecordsKept-1]
	}
	b.ring = append(b.ring, r)
	b.ringMu.Unlock()
}

// Leaks returns the most recent leaks found (at most 256, oldest first).
// A leak is listed once its span has ended (with ReleaseOnLeak, once its
// release has returned). A leaked lifetime has left Live by then, unless
// it still waits for its release (see ReleaseOnLeak). LeakCount says how
// many were found in all. Safe for concurrent use; the result is a copy.
func (t *Tracker) Leaks() []LeakRecord {
	mustTracker(t, "Leaks")
	b := &t.leaks
	b.ringMu.Lock()
	defer b.ringMu.Unlock()
	return append([]LeakRecord(nil), b.ring...)
}

// LeakCount returns how many leaks the Tracker has found since it was
// created.
func (t *Tracker) LeakCount() int64 {
	mustTracker(t, "LeakCount")
	return t.leaks.total.Load()
}
