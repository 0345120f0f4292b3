package otelguard

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// ErrClosed is returned, possibly wrapped, by a Close that finds the
// lifetime already ended (closed, disarmed, detached or released). It is
// normal for `defer r.Close(ctx)` to see it after an explicit Close.
var ErrClosed = errors.New("otelguard: already closed")

// PanicError is the error a release's panic becomes where the panic cannot
// go on to the caller: on a goroutine of the library's own (CloseAsync,
// CloseOnCancel, ReleaseOnLeak, CloseAll). It is also passed to
// otel.Handle.
type PanicError struct {
	Name  string // the lifetime's name
	Value any    // the value given to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("otelguard: release of %q panicked: %v", e.Name, e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// releaser is the release of one lifetime, bound to its value.
type releaser interface {
	release(ctx context.Context) error
}

// guardFunc adapts a Guard's cleanup. A func is pointer-shaped, so storing
// it in a releaser does not allocate.
type guardFunc func(context.Context) error

func (f guardFunc) release(ctx context.Context) error { return f(ctx) }

// lifetime is the argument side of a handle: everything needed to end a
// lifetime, and nothing that reaches the handle, so that a runtime cleanup
// attached to the handle can run. Guard, Resource and Scope keep it in a
// separate allocation (a Resource's with its value and release).
type lifetime struct {
	t          *Tracker
	state      atomic.Uint32 // see state.go; written only by update
	kind       kind
	registered bool   // guarded by the registry shard's mutex
	flags      uint16 // fixed before the lifetime is published
	slot       uint32 // the registry slot; set once, by add
	// Set when the release starts, with relCtx, and read through it: the
	// trigger, and the slots of t's inflight the goroutine running the
	// release holds (0 to 2). Here rather than in releaseCtx, they fill
	// the word beside slot: a Resource's state stays in the 176-byte size
	// class (TestStateFitsItsSizeClass).
	relFlights int16
	relTrig    trigIndex
	seq        uint64 // acquire order

	name       string
	acquiredAt int64           // see clock; meaningful with flClock
	span       trace.Span      // nil when the tracker starts no spans
	ctx        context.Context // the acquire context (without the lifetime's span)
	stack      *stack          // acquire program counters; nil without stacks
	rel        releaser

	m       *metricAttrs                  // nil when the tracker measures nothing
	x       atomic.Pointer[lifetimeExtra] // what few lifetimes have; nil for most
	relCtx  releaseCtx                    // the context the release runs with
	waiters atomic.Pointer[event]         // fired when the release has returned; see finish
}

// releaseCtx is the context a release gets: the caller's context with the
// lifetime's span as its current span (so spans the release starts nest
// under it). It also answers releasingKey with its lifetime: that is how a
// Close, Flush, Shutdown or CloseAll called from inside a release knows
// not to wait for itself. It is a field of the lifetime, which releases at
// most once, and it answers the span itself (see isSpanKey) rather than
// wrapping ctx in trace.ContextWithSpan: passing it allocates nothing.
type releaseCtx struct {
	context.Context
	l *lifetime
}

// ReleaseTrigger reports what started the release ctx was given to (or
// derived from): close for Close, gc for a release ReleaseOnLeak runs
// (also when CloseAll runs it, for a lifetime leaked inside a
// testing/synctest bubble), shutdown for CloseAll, and so on. ok is false
// outside a release. It is for a release that should do more, or less,
// when nobody called it: an HTTP body drained only when it leaked, say.
func ReleaseTrigger(ctx context.Context) (trig Trigger, ok bool) {
	if rc := releasing(ctx); rc != nil {
		return triggers[rc.l.relTrig], true
	}
	return "", false
}

// releasingKey is the context key under which a release's context answers
// its lifetime.
type releasingKey struct{}

func (c *releaseCtx) Value(key any) any {
	if _, ok := key.(releasingKey); ok {
		return c
	}
	if c.l.span != nil && isSpanKey(key) {
		return c.l.span
	}
	return c.Context.Value(key)
}

// spanProbe holds probeSpan under the OpenTelemetry API's own (unexported)
// context key for the current span: isSpanKey tells that key by asking it.
var (
	probeSpan = trace.SpanFromContext(context.Background()) // a non-recording span value
	spanProbe = trace.ContextWithSpan(context.Background(), probeSpan)
)

// isSpanKey reports whether key is the key under which trace.ContextWithSpan
// stores the current span, so that trace.SpanFromContext(releaseCtx) finds
// the lifetime's span without a context allocated per release. One
// interface comparison: spanProbe is a single context.WithValue over
// Background.
func isSpanKey(key any) bool {
	s, ok := spanProbe.Value(key).(trace.Span)
	return ok && s == probeSpan
}

// releasing returns the innermost release ctx runs in, or nil.
func releasing(ctx context.Context) *releaseCtx {
	if ctx == nil {
		return nil
	}
	rc, _ := ctx.Value(releasingKey{}).(*releaseCtx)
	return rc
}

// reentrant reports whether ctx is (derived from) the context of l's own
// release: a Close of l from inside its release.
func (l *lifetime) reentrant(ctx context.Context) bool {
	for rc := releasing(ctx); rc != nil; rc = releasing(rc.Context) {
		if rc.l == l {
			return true
		}
	}
	return false
}

// heldFlights counts the inflight slots of t held by the releases ctx runs
// in: what a wait from inside them must not wait for.
func (t *Tracker) heldFlights(ctx context.Context) int64 {
	var n int64
	for rc := releasing(ctx); rc != nil; rc = releasing(rc.Context) {
		if rc.l.t == t {
			n += int64(rc.l.relFlights)
		}
	}
	return n
}

// spanContext is ctx with the lifetime's span as its current span.
func (l *lifetime) spanContext(ctx context.Context) context.Context {
	if l.span == nil {
		return ctx
	}
	return trace.ContextWithSpan(ctx, l.span)
}

// lifetimeExtra holds what few lifetimes have, out of line to keep every
// lifetime small: the timers (made before the lifetime is published,
// armed after) and what a release says about the end (made when it
// says it). Its fields are atomic.
type lifetimeExtra struct {
	hold  atomic.Pointer[time.Timer]  // the hold threshold's timer
	held  atomic.Pointer[lifetime]    // what the hold timer reports; nil once stopped
	watch atomic.Pointer[func() bool] // CloseOnCancel's context.AfterFunc stop
	end   atomic.Pointer[endInfo]     // see MissedClose and SetEndAttributes
}

// extra returns the lifetime's extra, making it if it has none.
func (l *lifetime) extra() *lifetimeExtra {
	if x := l.x.Load(); x != nil {
		return x
	}
	l.x.CompareAndSwap(nil, &lifetimeExtra{})
	return l.x.Load()
}

// onHoldExceeded is the hold timer's function. It reaches the lifetime
// only through held, which stopHold clears: a stopped timer stays in the
// runtime's timer heap until the runtime gets round to removing it, and
// through a direct reference it would keep the lifetime, its span and its
// Tracker alive until then (TestTrackerWithHoldThresholdIsCollected).
func (x *lifetimeExtra) onHoldExceeded() {
	if l := x.held.Load(); l != nil {
		l.onHoldExceeded()
	}
}

// stopTimers stops the hold timer and the CloseOnCancel watch.
func (l *lifetime) stopTimers() {
	x := l.x.Load()
	if x == nil {
		return
	}
	l.stopHold()
	if stop := x.watch.Swap(nil); stop != nil { // its closure reaches l: see onHoldExceeded
		(*stop)()
	}
}

// stopHold stops the hold threshold's timer and lets go of the lifetime
// it would report. A timer made inside a testing/synctest bubble may only
// be stopped from inside one (the runtime makes anything else a fatal
// error), so from outside it is left to fire: its function finds nothing
// to report.
func (l *lifetime) stopHold() {
	if x := l.x.Load(); x != nil {
		x.held.Store(nil)
		if tm := x.hold.Load(); tm != nil && (l.flags&flBubble == 0 || inBubble()) {
			tm.Stop()
		}
	}
}

// finishedSentinel is what waiters holds once the release has returned.
var finishedSentinel = new(event)

// finish marks the release as returned (or as never to run): it wakes
// waiting Closes, stops the timers and unregisters the lifetime. It is
// called once, by the owner of the release.
func (l *lifetime) finish() {
	if w := l.waiters.Swap(finishedSentinel); w != nil && w != finishedSentinel {
		w.fire()
	}
	l.stopTimers()
	if l.flags&flNoReg != 0 {
		return // acquired after Shutdown, with nothing to watch
	}
	t := l.t
	t.reg.remove(l)
	if l.flags&flCancelWatch != 0 {
		t.watches.Add(-1)
	}
	if l.m != nil {
		t.meters.recordFinish(l.m)
	}
	if t.shut.Load() {
		t.retire() // the last lifetime of a shut-down Tracker lets it go
	}
}

// setClock records the acquire time: monotonic nanoseconds since
// clockEpoch outside a bubble, the bubble's fake Unix nanoseconds inside
// one (with flBubble).
func (l *lifetime) setClock() {
	l.flags |= flClock
	now := time.Now()
	if hasMono(now) {
		l.acquiredAt = int64(now.Sub(clockEpoch))
		return
	}
	l.flags |= flBubble
	l.acquiredAt = now.UnixNano()
}

// acquireTime is when the lifetime started: its span's start time when it
// records, else the time taken at acquire.
func (l *lifetime) acquireTime() time.Time {
	switch {
	case l.flags&flClock == 0:
		return l.span.(startTimer).StartTime() // begin made sure of it
	case l.flags&flBubble != 0:
		return time.Unix(0, l.acquiredAt)
	}
	return clockEpoch.Add(time.Duration(l.acquiredAt))
}

// startTimer is a span that tells its start time, as the SDK's do.
type startTimer interface{ StartTime() time.Time }

// age is how long the lifetime has been open. ok is false when it cannot
// be told: a lifetime acquired inside a testing/synctest bubble, whose
// clock is fake, aged from outside it, or the other way round.
func (l *lifetime) age() (d time.Duration, ok bool) {
	now := time.Now()
	if hasMono(now) == (l.flags&flBubble != 0) {
		return 0, false
	}
	return now.Sub(l.acquireTime()), true
}
