package otelguard

import (
	"sync"
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

type leakBook struct {
	mu      sync.Mutex
	queue   []*lifetime
	running bool

	missed missedBook // see missed.go
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
	return leakKey{tracker: l.t.id.Load(), slot: l.slot, seq: l.seq}
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
			l.t.recordMissed(l, missedLeak, false)
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
		r := release{l: l, trig: TriggerGC, flights: 1, detached: true, leak: true, report: report, recover: true}
		l.t.flight.addOutside()
		go func() {
			defer l.t.flight.doneOutside()
			ctx, cancel := l.t.detached(l.ctx)
			defer cancel()
			reportPanic(l, r.run(ctx)) // complete records the leak, even if the release Goexits
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
	// After the span ended (otelguardtest lists ended spans only).
	l.t.recordMissed(l, missedLeak, false)
}
