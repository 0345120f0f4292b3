package otelguard

import "time"

// LiveLifetime describes a lifetime that is still open.
type LiveLifetime struct {
	// ID identifies the lifetime within its Tracker: its acquire order.
	// LeakRecord.ID is the same if the lifetime is found leaked.
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

	stack *stack
	trim  []string
	l     *lifetime
}

// TrimPath returns file without the prefix the Tracker's WithTrimPaths
// cuts from file names in the stacks it renders, so that a view built from
// PCs names files as Stack does.
func (l LiveLifetime) TrimPath(file string) string { return trimPath(file, l.trim) }

// Touches returns the last access points Resource.Touch recorded
// (LeakDetectionParanoid), oldest first, as of now.
func (l LiveLifetime) Touches() []AccessRecord {
	if l.l == nil {
		return nil
	}
	return l.l.touches()
}

// Stack returns the acquire stack in the format of a Go traceback,
// symbolized now; it is empty when stacks are not captured.
func (l LiveLifetime) Stack() string { return l.stack.format(l.trim) }

// PCs returns a copy of the acquire stack's program counters, innermost
// (the acquiring function) first, as runtime.Callers returns them.
func (l LiveLifetime) PCs() []uintptr { return l.stack.PCs() }

// AppendPCs appends the acquire stack's program counters, innermost first,
// to dst and returns the extended slice; it allocates only if dst is
// short.
func (l LiveLifetime) AppendPCs(dst []uintptr) []uintptr {
	if l.stack == nil {
		return dst
	}
	return append(dst, l.stack.pcs...)
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
		out = append(out, l.live())
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
		stack:      l.stack,
		trim:       l.t.cfg.trim,
		l:          l,
	}
}
