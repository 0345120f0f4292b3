package otelguard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"weak"
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
	tracker uint32 // trackerByID
	slot    uint32 // the lifetime's registry slot
	seq     uint64 // its sequence number: a reused slot does not match
}

// key returns the leak key of a registered lifetime.
func (l *lifetime) key() leakKey {
	return leakKey{tracker: l.t.trackerID(), slot: l.slot, seq: l.seq}
}

// leakCleanupKey is the runtime cleanup attached to every handle. A lifetime
// no longer registered was finished (its release ran or never will): there
// is nothing to report. Nor is there once its Tracker is gone.
func leakCleanupKey(k leakKey) {
	t := trackerByID(k.tracker)
	if t == nil {
		return
	}
	if l := t.reg.lookup(k.seq, k.slot); l != nil {
		leakCleanup(l)
	}
}

// trackers maps Tracker IDs to Trackers, weakly: a leak cleanup's key names
// its Tracker by number. IDs are handed out once per Tracker, at its first
// lifetime with leak detection; a lookup happens once per leak.
var trackers struct {
	mu   sync.Mutex
	next uint32
	byID map[uint32]weak.Pointer[Tracker]
}

// trackerID returns t's ID, giving it one the first time.
func (t *Tracker) trackerID() uint32 {
	if id := t.id.Load(); id != 0 {
		return id
	}
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	if id := t.id.Load(); id != 0 {
		return id
	}
	if trackers.byID == nil {
		trackers.byID = make(map[uint32]weak.Pointer[Tracker])
	}
	if n := len(trackers.byID); n >= 1024 && n&(n-1) == 0 {
		for id, w := range trackers.byID { // forget collected Trackers
			if w.Value() == nil {
				delete(trackers.byID, id)
			}
		}
	}
	trackers.next++
	if trackers.next == 0 { // after 2^32 Trackers
		trackers.next = 1
	}
	id := trackers.next
	trackers.byID[id] = weak.Make(t)
	t.id.Store(id)
	return id
}

func trackerByID(id uint32) *Tracker {
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	return trackers.byID[id].Value()
}

// leakCleanup queues the report of a lifetime whose handle is unreachable.
func leakCleanup(l *lifetime) {
	t := l.t
	t.flight.add() // Shutdown and otelguardtest.Find wait for the report
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
			t.flight.done()
		}
	}
}

// leakClaim decides, in one swap, what a leak report owns: the span's end
// (report) and the release (claimed). The release is claimed when
// ReleaseOnLeak asks for it, or when nothing else could ever run it (no
// CloseOnCancel watch), so that the lifetime is let go.
func (l *lifetime) leakClaim() (report, claimed bool) {
	wantClaim := l.flags&flReleaseOnLeak != 0 || l.flags&flCancelWatch == 0
	for {
		s := l.state.Load()
		if s&stReported != 0 && (s&stClaimed != 0 || !wantClaim) {
			return false, false // ended, or reported and owned by the watch
		}
		n := s | stReported | stLeaked
		if s&stClaimed == 0 && wantClaim {
			n |= stClaimed
		}
		if l.state.CompareAndSwap(s, n) {
			return s&stReported == 0, s&stClaimed == 0 && n&stClaimed != 0
		}
	}
}

// reportLeak ends a lifetime whose handle was found unreachable.
func (l *lifetime) reportLeak() {
	if l.flags&flCancelWatch != 0 && l.ctx.Err() != nil {
		// The acquire context is done, so CloseOnCancel's release has run
		// or is on its way (context.AfterFunc runs it unless a claim
		// stopped the watch): the handle was let go, not leaked.
		return
	}
	report, claimed := l.leakClaim()
	if !report && !claimed {
		return
	}
	if l.kind == kScope && claimed && l.flags&flReleaseOnLeak == 0 {
		// The scope's release is ours and will not run: its members leak
		// with it.
		l.rel.(*scopeState).leaked()
	}
	if claimed && l.flags&flReleaseOnLeak != 0 {
		// Run the release on a goroutine of its own, detached and bounded,
		// and end the span when it returns.
		l.t.flight.add()
		go func() {
			defer l.t.flight.done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(l.acquireCtx()), l.t.cleanupTimeout())
			defer cancel()
			c := releaseCall{l: l, trig: TriggerGC, report: report, leak: true, detached: true, flights: 1}
			res := c.run(ctx, false)
			reportPanic(l, res)
			l.t.recordLeak(l, true)
		}()
		return
	}
	if claimed {
		defer l.finish()
	}
	if report {
		l.endSpan(OutcomeLeaked, TriggerGC)
	}
	// After the span ended (Leaks lists ended spans only); also when
	// Shutdown had already ended it open_at_shutdown and the handle was
	// dropped afterwards, unreleased: that is a leak too.
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
// CloseOnCancel still waits to release it; LeakCount says how many were
// found in all. Safe for concurrent use; the result is
// a copy.
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
