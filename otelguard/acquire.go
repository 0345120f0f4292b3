package otelguard

import (
	"context"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Span start options by kind, built once so a start allocates nothing here.
var startOpts = [...][]trace.SpanStartOption{
	kGuard:    {trace.WithAttributes(kindAttrs[kGuard])},
	kResource: {trace.WithAttributes(kindAttrs[kResource])},
	kScope:    {trace.WithAttributes(kindAttrs[kScope])},
}

// maxNameLength bounds a lifetime's name, in bytes: a longer name is cut
// (at a UTF-8 boundary) and ends with "...". Names should be short and
// low-cardinality, like span names: they label metrics too.
const maxNameLength = 256

// defaultNames name lifetimes acquired with an empty name.
var defaultNames = [...]string{
	kGuard:    "otelguard.guard",
	kResource: "otelguard.resource",
	kScope:    "otelguard.scope",
}

// lifetimeName is name as a lifetime keeps it: a default for an empty
// name, cut to maxNameLength.
func lifetimeName(name string, k kind) string {
	if name == "" {
		return defaultNames[k]
	}
	if len(name) <= maxNameLength {
		return name
	}
	cut := maxNameLength - 3
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "..."
}

// detects says whether a lifetime acquired with these arguments gets leak
// detection, so that its handle's constructor can allocate the handle with
// the state when it does not: nothing then needs them apart. Not with leak
// detection off, not when CloseOnCancel hands the release to a context
// that can be done, with WithLeakSampling only for the lifetimes the call
// site's counter picks, and after Shutdown only for ReleaseOnLeak (the
// release must still run when the handle is dropped).
func (t *Tracker) detects(ctx context.Context, name string, k kind, fn any, cfg *acquireConfig) bool {
	if !t.leakDetection() || (t.shut.Load() && !cfg.releaseOnLeak) {
		return false
	}
	if cfg.closeOnCancel && ctx != nil && ctx.Done() != nil {
		return false
	}
	return t.watched(lifetimeName(name, k), k, fn)
}

// begin starts a lifetime, in four phases: capture (the acquire stack),
// start (span, clock, metrics), register (the registry, the Request), arm
// (what may act on it from another goroutine: the leak check, the
// CloseOnCancel watch, the hold timer). Everything a phase's work reads is
// set by the phases before it. skip counts the frames between begin's
// caller and the user's code (0: begin's caller is the user's code).
// detect is what detects said.
func (t *Tracker) begin(l *lifetime, ctx context.Context, k kind, name string, rel releaser, cfg *acquireConfig, detect bool, skip int) {
	if ctx == nil {
		ctx = context.Background()
	}
	t.enroll() // the zero Tracker's first acquire; one atomic load after
	l.t = t
	l.kind = k
	l.name = lifetimeName(name, k)
	l.rel = rel
	l.ctx = ctx
	watch := cfg.closeOnCancel && ctx.Done() != nil
	if cfg.releaseOnLeak {
		l.flags |= flReleaseOnLeak
	}
	if watch {
		// The context owns the release: dropping the handle is not a
		// leak, and the release runs when ctx is done.
		l.flags |= flCancelWatch
	} else if detect {
		l.flags |= flDetect
	}
	if t.shut.Load() {
		t.beginAfterShutdown(l, ctx)
		return
	}
	if l.flags&(flDetect|flCancelWatch|flMember) != 0 {
		l.capture(cfg, skip+1)
	}
	hold := t.start(l, ctx, k, cfg)
	t.register(l, ctx, cfg)
	t.arm(l, ctx, hold)
}

// beginAfterShutdown starts a lifetime acquired after Shutdown: its
// release works, nothing is recorded. It is registered only if something
// must act on it from another goroutine — a CloseOnCancel release, which
// runs on a goroutine Flush waits for, or a ReleaseOnLeak release, which
// runs when the handle is dropped — and then not shown (Live) nor
// reported.
func (t *Tracker) beginAfterShutdown(l *lifetime, ctx context.Context) {
	l.flags |= flUntracked
	if l.flags&(flDetect|flCancelWatch) == 0 {
		l.flags |= flNoReg
		return
	}
	t.reg.add(l)
	if l.flags&flDetect != 0 {
		t.reenroll() // the leak key must find t
	}
	t.arm(l, ctx, 0)
}

// capture records the acquire stack.
func (l *lifetime) capture(cfg *acquireConfig, skip int) {
	if d := l.t.stackDepth(); d > 0 {
		l.stack = captureStack(skip+1+cfg.callerSkip, d, cfg.skipPkgs)
	}
}

// start starts the span, takes the acquire time and counts the lifetime
// in the metrics. It returns the hold threshold, and makes the lifetime's
// extra if its arming needs one.
func (t *Tracker) start(l *lifetime, ctx context.Context, k kind, cfg *acquireConfig) (hold time.Duration) {
	if ts := t.tracerFor(); !ts.noop {
		var span trace.Span
		if len(cfg.attrs) == 0 {
			_, span = ts.tracer.Start(ctx, l.name, startOpts[k]...)
		} else {
			attrs := make([]attribute.KeyValue, 0, 1+len(cfg.attrs))
			attrs = append(attrs, kindAttrs[k])
			attrs = append(attrs, cfg.attrs...)
			_, span = ts.tracer.Start(ctx, l.name, trace.WithAttributes(attrs...))
		}
		l.span = span
		if span.IsRecording() {
			l.flags |= flRecording
		}
	}
	m := t.metrics()
	if st, ok := l.span.(startTimer); ok && l.flags&flRecording != 0 && m == nil {
		// A recording span of the SDK has its start time: no clock read.
		if !hasMono(st.StartTime()) {
			l.flags |= flBubble
		}
	} else {
		l.setClock()
	}
	if m != nil {
		l.m = m.attrsFor(l.name, k)
		m.recordStart(ctx, l.m)
	}
	hold = cfg.hold
	if hold == 0 {
		hold = t.cfg.defaultHold
	}
	if hold > 0 || l.flags&flCancelWatch != 0 {
		l.x.Store(&lifetimeExtra{})
	}
	return hold
}

// register publishes the lifetime: in the registry (Live, Shutdown,
// CloseAll, the leak key) and in the Request its context carries.
func (t *Tracker) register(l *lifetime, ctx context.Context, cfg *acquireConfig) {
	t.reg.add(l)
	if !cfg.outlives && l.flags&flMember == 0 { // a member ends with its scope
		if r := requestFrom(ctx); r != nil {
			r.join(l)
		}
	}
	if t.shut.Load() {
		// Shutdown ran after begin looked and may have missed l.
		l.reportOpenAtShutdown()
	}
}

// arm starts what may act on a published lifetime from another
// goroutine.
func (t *Tracker) arm(l *lifetime, ctx context.Context, hold time.Duration) {
	if l.flags&flCancelWatch != 0 {
		if l.x.Load() == nil {
			l.x.Store(&lifetimeExtra{})
		}
		t.watches.Add(1)
	}
	if l.flags&flDetect != 0 && l.flags&flBubble == 0 {
		t.scan.arm(t)
	}
	x := l.x.Load()
	if l.flags&flCancelWatch != 0 {
		stop := context.AfterFunc(ctx, l.onCancel)
		x.watch.Store(&stop)
	}
	if hold > 0 {
		x.held.Store(l)
		x.hold.Store(time.AfterFunc(hold, x.onHoldExceeded))
	}
	if (l.flags&flCancelWatch != 0 || hold > 0) && l.finished() {
		// A CloseOnCancel release that ended l before its timers were
		// armed (its ctx was done already) could not stop them: finish
		// marks l finished, then stops the timers, so one of the two sees
		// the other.
		l.stopTimers()
	}
}

// onCancel is CloseOnCancel's release, on the goroutine context.AfterFunc
// started. The flight is counted before the claim, so that a Flush that
// sees the release claimed also sees it counted.
func (l *lifetime) onCancel() {
	l.t.flight.add()
	l.cancelRelease()
}

// cancelRelease claims and runs a CloseOnCancel release whose flight is
// counted already: onCancel, and a wait that found the context done.
func (l *lifetime) cancelRelease() {
	t := l.t
	defer t.flight.done()
	if !l.claimByLibrary() {
		return
	}
	reportPanic(l, release{l: l, trig: TriggerCancel, flights: 1, recover: true}.run(l.ctx))
}
