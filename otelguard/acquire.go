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

// MaxNameLength bounds a lifetime's name, in bytes: a longer name is cut
// (at a UTF-8 boundary) and ends with "...". Names should be short and
// low-cardinality, like span names: they label metrics too.
const MaxNameLength = 256

// defaultNames name lifetimes acquired with an empty name.
var defaultNames = [...]string{
	kGuard:    "otelguard.guard",
	kResource: "otelguard.resource",
	kScope:    "otelguard.scope",
}

// lifetimeName is name as a lifetime keeps it: a default for an empty
// name, cut to MaxNameLength.
func lifetimeName(name string, k kind) string {
	if name == "" {
		return defaultNames[k]
	}
	if len(name) <= MaxNameLength {
		return name
	}
	cut := MaxNameLength - 3
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "..."
}

// detects says whether a lifetime acquired with these arguments gets leak
// detection, so that its handle's constructor can allocate the handle with
// the state when it does not: nothing then needs them apart. Not after
// Shutdown, not at LeakDetectionOff, not when CloseOnCancel hands the
// release to a context that can be done, and with WithLeakSampling only
// for the lifetimes the call site's counter picks.
func (t *Tracker) detects(ctx context.Context, name string, k kind, fn any, cfg *acquireConfig) bool {
	if t.shut.Load() || !t.leakDetection() {
		return false
	}
	if cfg.closeOnCancel && ctx != nil && ctx.Done() != nil {
		return false
	}
	return t.watched(lifetimeName(name, k), k, fn)
}

// begin starts a lifetime: acquire stack, span, clock and metrics, then
// publishes it (registration), then arms what may act on it from another
// goroutine (the CloseOnCancel watch, the hold timer): everything those
// read is set before they can run. skip counts the frames between begin's
// caller and the user's code (0: begin's caller is the user's code).
// detect is what detects said.
func (t *Tracker) begin(l *lifetime, ctx context.Context, k kind, name string, rel releaser, cfg *acquireConfig, detect bool, skip int) {
	if ctx == nil {
		ctx = context.Background()
	}
	l.t = t
	l.kind = k
	l.name = lifetimeName(name, k)
	l.rel = rel
	l.ctx = ctx
	if t.shut.Load() {
		// After Shutdown: the release works (Close, CloseOnCancel),
		// nothing is recorded. A CloseOnCancel release still runs on a
		// goroutine of the library's, which Flush waits for: the lifetime
		// is kept where wait finds it (not in the registry: not in Live).
		l.flags |= flUntracked
		if cfg.closeOnCancel && ctx.Done() != nil {
			l.flags |= flCancelWatch
			l.x = &lifetimeExtra{}
			t.late.add(l)
			stop := context.AfterFunc(ctx, l.onCancel)
			l.x.watch.Store(&stop)
		}
		return
	}
	watch := cfg.closeOnCancel && ctx.Done() != nil
	if d := t.stackDepth(); d > 0 && (detect || watch || l.flags&flMember != 0) {
		l.stack = captureStack(skip+1+cfg.callerSkip, d, cfg.skipPkgs)
	}
	paranoid := t.cfg.leak == LeakDetectionParanoid
	if ts := t.tracerFor(); !ts.noop {
		var span trace.Span
		if len(cfg.attrs) == 0 && !paranoid {
			_, span = ts.tracer.Start(ctx, l.name, startOpts[k]...)
		} else {
			n := 1 + len(cfg.attrs)
			if paranoid {
				n += 3 // the acquire site
			}
			attrs := make([]attribute.KeyValue, 0, n)
			attrs = append(attrs, kindAttrs[k])
			if paranoid {
				attrs = append(attrs, l.stack.siteAttrs()...)
			}
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
	if cfg.releaseOnLeak {
		l.flags |= flReleaseOnLeak
	}
	if m != nil {
		l.m = m.attrsFor(l.name, k)
		m.recordStart(ctx, l.m)
	}
	hold := cfg.hold
	if hold == 0 {
		hold = t.cfg.defaultHold
	}
	if watch {
		// The context owns the release: dropping the handle is not a
		// leak, and the release runs when ctx is done.
		l.flags |= flCancelWatch
		t.watches.Add(1)
	} else if detect {
		l.flags |= flDetect
	}
	if hold > 0 || watch || paranoid {
		l.x = &lifetimeExtra{}
	}

	t.reg.add(l)
	if !cfg.outlives && l.flags&flMember == 0 { // a member ends with its scope
		if r := RequestFrom(ctx); r != nil {
			r.join(l)
		}
	}
	if t.shut.Load() {
		// Shutdown ran after the check above and may have missed l.
		l.reportOpenAtShutdown()
	}
	if l.flags&flDetect != 0 {
		t.pin()
		if l.flags&flBubble == 0 {
			t.scan.arm(t)
		}
	}
	if watch {
		stop := context.AfterFunc(ctx, l.onCancel)
		l.x.watch.Store(&stop)
	}
	if hold > 0 {
		l.x.held.Store(l)
		l.x.hold.Store(time.AfterFunc(hold, l.x.onHoldExceeded))
	}
	if (watch || hold > 0) && l.finished() {
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
	t := l.t
	t.flight.add()
	defer t.flight.done()
	if !l.claimByLibrary() {
		return
	}
	reportPanic(l, release{l: l, trig: TriggerCancel, flights: 1}.run(l.ctx))
}
