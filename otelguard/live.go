package otelguard

import "time"

// LiveLifetime describes a lifetime that is still open.
type LiveLifetime struct {
	// ID identifies the lifetime within its Tracker: its acquire order.
	ID         uint64
	Name       string
	Kind       Kind
	AcquiredAt time.Time
	// Releasing is true while its release runs (or, having outlived its
	// deadline, runs on in the background).
	Releasing bool
	// Reported is true when the lifetime's span has already ended without
	// a release: Shutdown reported it open_at_shutdown, or leak detection
	// reported it while its release is still to run (see ReleaseOnLeak).
	Reported bool
	// Leaked is true when leak detection found the handle unreachable but
	// the lifetime still waits for its release (see ReleaseOnLeak).
	Leaked bool
	// Stack is the acquire stack in the format of a Go traceback,
	// symbolized when Live was called; empty when stacks are not captured
	// (and for lifetimes not watched by leak detection).
	Stack string

	stack *stack
}

// Live returns the lifetimes that are open now, in acquire order: every
// lifetime acquired before the call and not ended before it. A lifetime
// whose release is running, or that outlived its deadline and runs on, is
// still open. It is the deterministic presence check that garbage
// collection cannot give.
//
// Live is safe for concurrent use; it briefly holds each of the
// registry's stripes in turn, never all at once.
func (t *Tracker) Live() []LiveLifetime {
	mustTracker(t, "Live")
	ls := t.reg.snapshot()
	out := make([]LiveLifetime, 0, len(ls))
	for _, l := range ls {
		if l.flags&flUntracked == 0 {
			out = append(out, l.live())
		}
	}
	return out
}

// live describes l as it is now.
func (l *lifetime) live() LiveLifetime {
	st := l.state.Load()
	return LiveLifetime{
		ID:         l.seq,
		Name:       l.name,
		Kind:       kindNames[l.kind],
		AcquiredAt: l.acquireTime(),
		Releasing:  st&stClaimed != 0,
		Reported:   st&stReported != 0 && st&stClaimed == 0,
		Leaked:     st&stLeaked != 0,
		Stack:      l.stackText(),
		stack:      l.stack,
	}
}
