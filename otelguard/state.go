package otelguard

// A lifetime's state is one word that only gains bits. Every change to it
// is made by update, one compare-and-swap at a time, so each decision
// (who releases, who ends the span) is made exactly once, whatever the
// interleaving of Close, Run, Disarm, cancellation, collection, Shutdown
// and CloseAll.
//
// Two decisions are kept apart:
//
//   - stClaimed: the release is owned. Whoever sets it runs the release
//     (Close, Run, a Scope, CloseAll, CloseOnCancel, ReleaseOnLeak) or
//     decides it never will (Disarm, Detach, a leak report). A release runs
//     at most once.
//   - stReported: the span's outcome is decided. Whoever sets it ends the
//     span; nobody else touches it. A release claims it when it returns,
//     unless something ended the span first: Shutdown (open_at_shutdown), a
//     leak report, or an abandoned bounded release (timed_out at its
//     deadline, the release going on as a straggler).
//
// That the release has returned (or never will run) is told by finish.
const (
	stClaimed  uint32 = 1 << iota
	stReported        // the span's outcome is decided
	stLibrary         // claimed by a goroutine of the library's own (not a caller's Close)
	stMisused         // the first misuse was recorded
	stDetached        // ended by Detach
	stLeaked          // leak detection found the handle unreachable
	stHeld            // the hold threshold passed while the lifetime was open
)

// update sets the bits of set in the state word unless one of the bits of
// unless is already set. It returns the state before the change and
// whether it made it. It is the only code that writes the state word.
func (l *lifetime) update(set, unless uint32) (old uint32, ok bool) {
	for {
		old = l.state.Load()
		if old&unless != 0 {
			return old, false
		}
		if l.state.CompareAndSwap(old, old|set) {
			return old, true
		}
	}
}

// claim takes the release. ok is false if another path owns it.
func (l *lifetime) claim() bool {
	_, ok := l.update(stClaimed, stClaimed)
	return ok
}

// claimByLibrary takes the release for a goroutine of the library's own:
// Flush, Shutdown and CloseAll wait for such releases, and never for a
// Close running on a caller's goroutine.
func (l *lifetime) claimByLibrary() bool {
	_, ok := l.update(stClaimed|stLibrary, stClaimed)
	return ok
}

// claimReport takes the span's end. ok is false if the outcome is decided.
func (l *lifetime) claimReport() bool {
	_, ok := l.update(stReported, stReported)
	return ok
}

// Lifetime flags: fixed before the lifetime is published (registered), and
// only read after.
const (
	flRecording     uint16 = 1 << iota // the span records: set end attributes
	flReleaseOnLeak                    // ReleaseOnLeak
	flCancelWatch                      // CloseOnCancel armed a context.AfterFunc: the context owns the release
	flMember                           // a Scope's Defer: no handle of its own
	flClock                            // acquiredAt holds the acquire time (else the span's start time tells it)
	flBubble                           // acquired inside a testing/synctest bubble
	flDetect                           // the handle has a leak cleanup
	flUntracked                        // acquired after Shutdown: no span, not shown or reported
	flNoReg                            // not registered: acquired after Shutdown with nothing to watch
)
