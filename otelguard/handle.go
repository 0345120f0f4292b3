package otelguard

import (
	"context"
	"runtime"
)

// handle is what Guard, Resource and Scope have in common: the lifetime
// they end, and the runtime cleanup that reports the handle if it is
// dropped unended. Its methods do the work of the handles' methods, which
// check for a nil handle first.
type handle struct {
	l       *lifetime
	cleanup runtime.Cleanup
}

// watch attaches leak detection to the handle at owner (the Guard,
// Resource or Scope h is embedded in), if its lifetime has it.
func watch[H any](owner *H, h *handle) {
	if h.l.flags&flDetect != 0 {
		h.cleanup = runtime.AddCleanup(owner, leakCleanupKey, h.l.key())
	}
}

// closeInline runs the release on the calling goroutine with ctx and
// trigger trig: Resource.Close, Scope.Close. Nothing is recovered: a
// panic in the release ends the lifetime and goes on with its own stack;
// a runtime.Goexit ends it and goes on too. A Close that loses the claim
// waits for the release in flight (bounded by ctx) and returns ErrClosed.
func (h *handle) closeInline(ctx context.Context, trig Trigger) error {
	l := h.l
	if !l.claim() {
		return l.waitFinished(ctx)
	}
	h.cleanup.Stop()
	defer runtime.KeepAlive(h) // across the release, even if it panics
	return release{l: l, trig: trig}.run(ctx).err
}

// closeAsync is Resource.CloseAsync: see there.
func (h *handle) closeAsync(ctx context.Context) <-chan error {
	l := h.l
	ch := make(chan error, 1)
	if !l.claimByLibrary() {
		if l.finished() {
			ch <- ErrClosed
			return ch
		}
		// Another path owns the release: this goroutine only waits for it,
		// which is no work of the library's (Flush and Shutdown do not
		// count it; the release, if it runs on a goroutine of the
		// library's, is counted there).
		go func() { ch <- l.waitFinished(ctx) }()
		return ch
	}
	h.cleanup.Stop()
	runtime.KeepAlive(h)
	release{l: l, trig: TriggerClose}.background(ctx, func(err error) { ch <- err })
	return ch
}

// disarm ends the lifetime without releasing (Guard.Disarm, Scope.Disarm,
// Resource.Detach): extra state bits go in with the claim.
func (h *handle) disarm(extra uint32) bool {
	if !h.l.disarm(extra) {
		return false
	}
	h.cleanup.Stop()
	runtime.KeepAlive(h)
	return true
}

// disarm ends the lifetime without running the release: outcome disarmed,
// trigger disarm. It reports whether this call ended it.
func (l *lifetime) disarm(extra uint32) bool {
	old, ok := l.update(stClaimed|stReported|extra, stClaimed)
	if !ok {
		return false
	}
	defer l.finish() // even if ending the span panics
	if l.kind == kScope {
		// Nothing is released: member guards end disarmed, the rest is
		// handed back (Python's ExitStack.pop_all).
		l.rel.(*scopeState).disarmMembers()
	}
	if old&stReported == 0 {
		l.endSpan(OutcomeDisarmed, TriggerDisarm)
	}
	return true
}
