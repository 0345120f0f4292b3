package otelguard

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// A Tracker starts and ends the spans of guarded lifetimes and keeps track
// of the ones still open. Create one with New, or use Default. The zero
// Tracker is ready to use and behaves as New() with no options.
//
// A Tracker is safe for concurrent use by any number of goroutines. Its
// acquire and release paths take no lock shared by the whole Tracker and
// never wait on an exporter.
type Tracker struct {
	cfg config

	tracer atomic.Pointer[tracerState]
	reg    registry
	flight inflight
	leaks  leakBook

	meterOnce sync.Once
	meters    *meters

	watches atomic.Int64  // registered lifetimes with a CloseOnCancel watch
	id      atomic.Uint32 // see trackerID; 0 until its first lifetime with leak detection
}

// tracerState is a resolved tracer and what was resolved from.
type tracerState struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
	noop   bool // start no spans at all
	stable bool // the provider's type is not comparable: never re-resolved
}

// New returns a Tracker configured by opts. Nil options are ignored.
func New(opts ...Option) *Tracker {
	t := &Tracker{cfg: newConfig(opts)}
	if t.cfg.tp != nil {
		t.tracer.Store(newTracerState(t.cfg.tp))
	}
	mp := t.cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t.meters = newMeters(mp)
	return t
}

var defaultTracker = sync.OnceValue(func() *Tracker { return New() })

// Default returns the process-wide Tracker used by the package-level
// functions. It follows the global providers (otel.GetTracerProvider and
// otel.GetMeterProvider), resolved lazily: a provider set with
// otel.SetTracerProvider after the first call is picked up by the next
// acquire.
func Default() *Tracker { return defaultTracker() }

func newTracerState(tp trace.TracerProvider) *tracerState {
	s := &tracerState{tp: tp, stable: !reflect.TypeOf(tp).Comparable()}
	switch tp.(type) {
	case noop.TracerProvider, *noop.TracerProvider:
		s.noop = true
	default:
		s.tracer = tp.Tracer(ScopeName,
			trace.WithInstrumentationVersion(Version),
			trace.WithSchemaURL(semconv.SchemaURL))
	}
	return s
}

// tracerFor returns the tracer to use now: the configured provider's, or
// the current global provider's.
func (t *Tracker) tracerFor() *tracerState {
	s := t.tracer.Load()
	if t.cfg.tp != nil && s != nil {
		return s
	}
	g := otel.GetTracerProvider()
	if s != nil && (s.stable || s.tp == g) {
		return s
	}
	n := newTracerState(g)
	t.tracer.Store(n)
	return n
}

func (t *Tracker) cleanupTimeout() time.Duration {
	if t.cfg.cleanupTimeout <= 0 {
		return DefaultCleanupTimeout
	}
	return t.cfg.cleanupTimeout
}

func (t *Tracker) stackDepth() int {
	if t.cfg.leak != LeakDetectionStacks && t.cfg.leak != LeakDetectionParanoid {
		return 0
	}
	if !t.cfg.set {
		return DefaultStackDepth // the zero Tracker
	}
	return t.cfg.stackDepth
}

func (t *Tracker) leakDetection() bool { return t.cfg.leak != LeakDetectionOff }

func mustTracker(t *Tracker, fn string) {
	if t == nil {
		panic("otelguard: " + fn + " called on a nil *Tracker")
	}
}

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

func truncateName(name string) string {
	cut := MaxNameLength - 3
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "..."
}

// defaultNames name lifetimes acquired with an empty name.
var defaultNames = [...]string{
	kGuard:    "otelguard.guard",
	kResource: "otelguard.resource",
	kScope:    "otelguard.scope",
}

// begin starts a lifetime: span, acquire stack, registration and the
// CloseOnCancel watch. skip counts the frames between begin's caller and
// the user's code (0: begin's caller is the user's code).
func (t *Tracker) begin(l *lifetime, ctx context.Context, k kind, name string, rel releaser, cfg *acquireConfig, skip int) {
	if ctx == nil {
		ctx = context.Background()
	}
	if name == "" {
		name = defaultNames[k]
	} else if len(name) > MaxNameLength {
		name = truncateName(name)
	}
	l.t = t
	l.kind = k
	l.name = name
	l.rel = rel
	l.ctx = ctx
	if d := t.stackDepth(); d > 0 {
		l.stack = captureStack(skip+1, d)
	}
	paranoid := t.cfg.leak == LeakDetectionParanoid
	if ts := t.tracerFor(); !ts.noop {
		var span trace.Span
		if len(cfg.attrs) == 0 && !paranoid {
			_, span = ts.tracer.Start(ctx, name, startOpts[k]...)
		} else {
			attrs := make([]attribute.KeyValue, 0, 4+len(cfg.attrs))
			attrs = append(attrs, kindAttrs[k])
			if paranoid {
				attrs = append(attrs, l.stack.siteAttrs()...)
			}
			attrs = append(attrs, cfg.attrs...)
			_, span = ts.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
		}
		l.span = span
		if span.IsRecording() {
			l.flags |= flRecording
		}
	}
	m := t.metrics()
	if l.flags&flRecording == 0 || m != nil || !hasStartTime(l.span) {
		// A recording span of the SDK has its start time; metrics want a
		// cheaper one, and other spans may not tell theirs.
		l.acquiredAt = monotonicNow()
		l.flags |= flClock
	}
	if cfg.releaseOnLeak {
		l.flags |= flReleaseOnLeak
	}
	if m != nil {
		l.m = m.attrsFor(name, k)
		m.recordStart(ctx, l.m)
	}
	hold := cfg.hold
	if hold == 0 {
		hold = t.cfg.defaultHold
	}
	if hold > 0 || cfg.closeOnCancel || paranoid {
		l.timers = &lifetimeTimers{}
	}
	if hold > 0 {
		l.timers.hold = time.AfterFunc(hold, l.onHoldExceeded)
	}
	watch := cfg.closeOnCancel && ctx.Done() != nil
	if watch {
		l.flags |= flCancelWatch
		t.watches.Add(1)
	}
	// Registration publishes the lifetime to Shutdown, CloseAll and Live:
	// everything they read is set above. The watch is armed after it, so
	// that a context already done cannot release (and unregister) the
	// lifetime before it is registered.
	t.reg.add(l)
	if watch {
		stop := context.AfterFunc(ctx, l.onCancel)
		l.timers.watch.Store(&stop)
	}
}

// onCancel is CloseOnCancel's release, on the goroutine context.AfterFunc
// started.
func (l *lifetime) onCancel() {
	won, report := l.claimRelease()
	if !won {
		return
	}
	l.t.flight.add()
	defer l.t.flight.done()
	c := releaseCall{l: l, trig: TriggerCancel, report: report, flights: 1}
	res := c.run(l.acquireCtx(), false)
	reportPanic(l, res)
}

// reportPanic hands a release's panic on a goroutine of the library's own
// to otel.Handle and returns it as an error.
func reportPanic(l *lifetime, res relResult) error {
	if res.panic == nil {
		return res.err
	}
	pe := &PanicError{Name: l.name, Value: res.panic.value, Stack: res.panic.stack}
	otel.Handle(pe)
	return pe
}

// Shutdown ends every lifetime that is still open as open_at_shutdown
// (trigger shutdown, with its acquire stack), oldest first, then waits for
// releases running on the library's goroutines (CloseAsync, CloseOnCancel,
// ReleaseOnLeak, stragglers that outlived their deadline) and for pending
// leak reports. It returns ctx's error if they outlast ctx, else nil.
//
// Shutdown releases nothing: a lifetime it reports can still be closed,
// and its release still runs then (recording nothing more). It may be
// called more than once and concurrently; each call reports the lifetimes
// open and not yet reported at that moment. The Tracker keeps working
// after it. Call it before shutting down the TracerProvider, so that the
// spans it ends are exported. With a synchronous span processor it waits
// on the exporter for each span it ends.
func (t *Tracker) Shutdown(ctx context.Context) error {
	mustTracker(t, "Shutdown")
	if ctx == nil {
		ctx = context.Background()
	}
	// In acquire order: lifetimes acquired together sit together in
	// memory, and so do their spans; walking the registry shard by shard
	// instead touches every 32nd one, a cache miss each.
	for _, l := range t.reg.snapshot() {
		if l.claimReport() {
			l.endSpan(OutcomeOpenAtShutdown, TriggerShutdown)
		}
	}
	return t.wait(ctx)
}

// wait waits for the library's own goroutines, bounded by ctx. A
// CloseOnCancel release whose context is done counts even if
// context.AfterFunc has not started its goroutine yet, so that cancel()
// followed by Flush or Shutdown reliably sees the release.
func (t *Tracker) wait(ctx context.Context) error {
	held := t.heldFlights(ctx)
	if t.watches.Load() > 0 {
		for _, l := range t.reg.all() {
			if l.flags&flCancelWatch != 0 && l.ctx.Err() != nil {
				if err := l.waitFinished(ctx); !errors.Is(err, ErrClosed) || ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	if t.flight.wait(ctx.Done(), held) {
		return nil
	}
	return ctx.Err()
}

// CloseAll releases every open lifetime, newest first, with trigger
// shutdown, then waits like Shutdown for releases on the library's
// goroutines. Resources and scopes get ctx (detached and bounded by the
// cleanup timeout if it is done); a Guard gets its own context, as Run
// would give it, bounded by ctx's deadline if it has one. CloseAll returns
// by ctx's deadline: a release that ignores its context goes on in the
// background, and what is left when ctx is done is released in order on a
// goroutine of the library's own (each detached, bounded by the cleanup
// timeout; their errors go to otel.Handle) while CloseAll returns ctx's
// error. Lifetimes already being released elsewhere are skipped.
//
// It returns every release's error joined with errors.Join, and ctx's
// error if the wait outlasted it. A release's panic does not propagate: it
// is reported through otel.Handle and returned as a *PanicError. CloseAll
// may be called more than once and concurrently; each lifetime is released
// once.
func (t *Tracker) CloseAll(ctx context.Context) error {
	mustTracker(t, "CloseAll")
	if ctx == nil {
		ctx = context.Background()
	}
	ls := t.reg.snapshot()
	var errs []error
	for i := len(ls) - 1; i >= 0; i-- {
		if ctx.Err() != nil {
			// Out of time: release the rest in order on a goroutine of the
			// library's own (each detached, bounded by the cleanup
			// timeout), and stop waiting.
			t.flight.add()
			go t.closeRest(ctx, ls[:i+1])
			break
		}
		l := ls[i]
		res, ok := l.closeWith(ctx, TriggerShutdown, false, 0)
		if !ok {
			continue
		}
		if err := reportPanic(l, res); err != nil {
			errs = append(errs, err)
		}
	}
	if err := t.wait(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// closeRest is what CloseAll had no time left for: newest first, each
// release detached; errors go to otel.Handle, there being no caller left.
func (t *Tracker) closeRest(ctx context.Context, ls []*lifetime) {
	defer t.flight.done()
	for i := len(ls) - 1; i >= 0; i-- {
		l := ls[i]
		if res, ok := l.closeWith(ctx, TriggerShutdown, false, 1); ok {
			if err := reportPanic(l, res); err != nil && res.panic == nil {
				otel.Handle(err)
			}
		}
	}
}

// closeWith releases l on behalf of something other than its handle (a
// Scope, CloseAll). ok is false if another path owns the release.
// flights counts the inflight slots the calling goroutine holds.
func (l *lifetime) closeWith(ctx context.Context, trig Trigger, inline bool, flights int64) (res relResult, ok bool) {
	won, report := l.claimRelease()
	if !won {
		return relResult{}, false
	}
	c := releaseCall{l: l, trig: trig, report: report, flights: flights}
	if l.kind == kGuard && l.flags&flMember == 0 {
		// A Guard's cleanup gets the guard's own context, as Run would
		// give it; if the closer has a deadline, the cleanup is bounded by
		// it too, and the closer does not wait past it.
		if l.ctx.Err() != nil {
			return c.run(l.ctx, true), true // detached and bounded by run
		}
		var cancel context.CancelFunc
		var gctx context.Context
		switch d, ok := ctx.Deadline(); {
		case ctx.Err() != nil: // the closer is out of time: bound it as detached
			gctx, cancel = context.WithTimeout(context.WithoutCancel(l.ctx), l.t.cleanupTimeout())
			c.detached = true
		case ok:
			gctx, cancel = context.WithDeadline(context.WithoutCancel(l.ctx), d)
		default:
			return c.run(l.ctx, true), true
		}
		defer cancel()
		return c.run(gctx, false), true
	}
	return c.run(ctx, inline), true
}

// acquireCtx is the context a release started by the library itself gets:
// the acquire context, which run detaches if it is done.
func (l *lifetime) acquireCtx() context.Context {
	if l.ctx != nil {
		return l.ctx
	}
	return context.Background()
}

// acquireTime is when the lifetime started: its span's start time when it
// records, else the time taken at acquire.
func (l *lifetime) acquireTime() time.Time {
	if l.flags&flClock == 0 {
		return l.span.(startTimer).StartTime() // begin made sure of it
	}
	return clockEpoch.Add(time.Duration(l.acquiredAt))
}

// startTimer is a span that tells its start time, as the SDK's do.
type startTimer interface{ StartTime() time.Time }

func hasStartTime(s trace.Span) bool {
	_, ok := s.(startTimer)
	return ok
}

// age is how long the lifetime has been open.
func (l *lifetime) age() time.Duration {
	if l.flags&flClock != 0 {
		return time.Duration(monotonicNow() - l.acquiredAt)
	}
	return time.Since(l.acquireTime())
}

// clockEpoch anchors acquire times: a lifetime keeps the monotonic
// nanoseconds since it, which is half the cost of time.Now on virtual
// machines whose wall clock is slow to read, and immune to clock steps.
var clockEpoch = time.Now()

func monotonicNow() int64 { return int64(time.Since(clockEpoch)) }

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
	// reported it while CloseOnCancel still waits to release it.
	Reported bool
	// Leaked is true when leak detection found the handle unreachable but
	// the lifetime waits for CloseOnCancel to release it.
	Leaked bool

	stack *stack
	trim  []string
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
		st := l.state.Load()
		out = append(out, LiveLifetime{
			ID:         l.seq,
			Name:       l.name,
			Kind:       kindNames[l.kind],
			AcquiredAt: l.acquireTime(),
			Releasing:  st&stClaimed != 0,
			Reported:   st&stReported != 0 && st&stClaimed == 0,
			Leaked:     st&stLeaked != 0,
			stack:      l.stack,
			trim:       t.cfg.trim,
		})
	}
	return out
}

// Flush waits until the work on the Tracker's own goroutines is done: the
// leak reports queued so far (their spans ended), releases started by
// CloseAsync, CloseOnCancel and ReleaseOnLeak, and stragglers that
// outlived their deadline. It returns ctx's error if that work outlasts
// ctx, else nil. It reports nothing and releases nothing.
//
// Leak detection depends on the garbage collector: a handle dropped just
// now is found only after a collection has run and the runtime has run its
// cleanup, which Flush cannot wait for. Tests that need leaks found use
// otelguardtest.Find, which forces collections and retries.
func (t *Tracker) Flush(ctx context.Context) error {
	mustTracker(t, "Flush")
	if ctx == nil {
		ctx = context.Background()
	}
	return t.wait(ctx)
}
