package otelguard

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
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
//
// A Tracker with open lifetimes under leak detection stays alive until
// they end or it is shut down, whether or not the program keeps a
// reference to it: every leak of its lifetimes is reported and counted.
// One with nothing open, never shut down and no longer referenced, is
// garbage collected like any value.
type Tracker struct {
	cfg config

	tracer atomic.Pointer[tracerState]
	reg    registry
	flight inflight
	leaks  leakBook
	scan   leakScan
	sites  siteCounts
	logs   leakLog

	meterOnce sync.Once
	meters    *meters

	watches atomic.Int64  // registered lifetimes with a CloseOnCancel watch
	late    lateWatches   // CloseOnCancel lifetimes acquired after Shutdown
	id      atomic.Uint32 // see trackerID; 0 until its first lifetime with leak detection
	pinned  atomic.Bool   // see pin
	shut    atomic.Bool   // Shutdown was called
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
// functions when neither WithTracker nor the context names one. It follows
// the global providers (otel.GetTracerProvider and otel.GetMeterProvider),
// resolved lazily: a provider set with otel.SetTracerProvider after the
// first call is picked up by the next acquire.
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
	if t.cfg.leak < LeakDetectionStacks {
		return 0
	}
	if !t.cfg.set {
		return DefaultStackDepth // the zero Tracker
	}
	return t.cfg.stackDepth
}

func (t *Tracker) leakDetection() bool { return t.cfg.leak >= LeakDetectionOn }

func mustTracker(t *Tracker, fn string) {
	if t == nil {
		panic("otelguard: " + fn + " called on a nil *Tracker")
	}
}

// Shutdown ends every lifetime that is still open as open_at_shutdown
// (trigger shutdown, with its acquire stack), oldest first, then waits for
// releases running on the library's goroutines (CloseAsync, CloseAll,
// CloseOnCancel, ReleaseOnLeak, stragglers that outlived their deadline)
// and for pending leak reports. It returns by ctx's deadline: ctx's error
// if that work outlasts ctx, else nil. It never waits for a Close running
// on a caller's goroutine; such a lifetime, already being released, ends
// with its own outcome.
//
// Shutdown is terminal, as an OpenTelemetry provider's is: a second call
// returns nil at once and does nothing. It releases nothing: a lifetime it
// reports can still be closed, and its release still runs then (recording
// nothing more). Lifetimes acquired after it still work — their releases
// run — but start no span and are not tracked (Live, leak detection,
// metrics). Call it before shutting down the TracerProvider, so that the
// spans it ends are exported. With a synchronous span processor it waits
// on the exporter for each span it ends.
func (t *Tracker) Shutdown(ctx context.Context) error {
	mustTracker(t, "Shutdown")
	if ctx == nil {
		ctx = context.Background()
	}
	if !t.shut.CompareAndSwap(false, true) {
		return nil
	}
	// In acquire order: lifetimes acquired together sit together in
	// memory, and so do their spans; walking the registry shard by shard
	// instead touches every 32nd one, a cache miss each.
	for _, l := range t.reg.snapshot() {
		l.reportOpenAtShutdown()
	}
	err := t.wait(ctx)
	t.flushLogs()
	t.unpin()
	return err
}

// reportOpenAtShutdown ends the span of a lifetime that nothing is
// releasing as open_at_shutdown.
func (l *lifetime) reportOpenAtShutdown() {
	if _, ok := l.update(stReported, stReported|stClaimed); ok {
		l.endSpan(OutcomeOpenAtShutdown, TriggerShutdown)
	}
}

// wait waits for the library's own goroutines, bounded by ctx. A
// CloseOnCancel release whose context is done counts even before
// context.AfterFunc's goroutine has claimed it, so that cancel() followed
// by Flush or Shutdown reliably sees the release; a release claimed by a
// caller's Close does not count.
func (t *Tracker) wait(ctx context.Context) error {
	held := t.heldFlights(ctx)
	if t.watches.Load() > 0 || t.late.n.Load() > 0 {
		for _, l := range append(t.reg.all(), t.late.all()...) {
			if l.flags&flCancelWatch == 0 || l.ctx.Err() == nil {
				continue
			}
			// context.AfterFunc has started, or is starting, the
			// goroutine that claims the release and counts it: a short
			// window, bounded by ctx.
			for l.state.Load()&stClaimed == 0 {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				runtime.Gosched()
			}
		}
	}
	if t.flight.wait(ctx.Done(), held) {
		return nil
	}
	return ctx.Err()
}

// CloseAll releases every open lifetime, newest first, with trigger
// shutdown, on a goroutine of the library's own, and returns by ctx's
// deadline. Resources and scopes get ctx; a Guard gets its own context,
// as Run would give it, bounded by ctx's deadline if ctx has one; a
// release whose context is done when it starts runs detached, bounded by
// the cleanup timeout. Lifetimes already being released elsewhere are
// skipped.
//
// If ctx is done before every release has returned, CloseAll gives up:
// each lifetime it took on and has not finished ends timed_out (failed if
// ctx was cancelled) at once, and the releases go on in order in the
// background (Flush and Shutdown wait for them; their errors go to
// otel.Handle), while CloseAll returns. Then, as Shutdown, it waits for
// the releases on the library's goroutines, bounded by ctx.
//
// It returns every release's error joined with errors.Join, and ctx's
// error if it gave up. A release's panic does not propagate: it is
// reported through otel.Handle and returned as a *PanicError. CloseAll is
// not terminal: it may be called more than once and concurrently; each
// lifetime is released once.
func (t *Tracker) CloseAll(ctx context.Context) error {
	mustTracker(t, "CloseAll")
	if ctx == nil {
		ctx = context.Background()
	}
	ls := t.reg.snapshot()
	j := &closeAllJob{ctx: ctx, done: &event{}}
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].claimByLibrary() {
			j.ls = append(j.ls, ls[i])
		}
	}
	var errs []error
	if len(j.ls) > 0 {
		t.flight.add()
		go j.run(t)
		for !j.done.isFired() {
			if !j.done.wait(ctx.Done(), false, nil) {
				j.giveUp()
				break
			}
		}
		errs = j.takeErrs()
	}
	if err := t.wait(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// lateWatches holds the CloseOnCancel lifetimes acquired after Shutdown:
// untracked, yet released on a goroutine of the library's that Flush
// waits for.
type lateWatches struct {
	n  atomic.Int64
	mu sync.Mutex
	m  map[*lifetime]struct{}
}

func (w *lateWatches) add(l *lifetime) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[*lifetime]struct{})
	}
	w.m[l] = struct{}{}
	w.n.Store(int64(len(w.m)))
}

func (w *lateWatches) remove(l *lifetime) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, l)
	w.n.Store(int64(len(w.m)))
}

func (w *lateWatches) all() []*lifetime {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*lifetime, 0, len(w.m))
	for l := range w.m {
		out = append(out, l)
	}
	return out
}

// closeAllJob is one CloseAll's releases, run in order on a goroutine of
// the library's own.
type closeAllJob struct {
	ctx  context.Context
	ls   []*lifetime // newest first
	done *event      // fired when every release has returned

	mu      sync.Mutex
	next    int       // the release running or about to; guarded by mu
	started time.Time // when release next started; zero before; guarded by mu
	errs    []error
	gaveUp  bool
}

func (j *closeAllJob) run(t *Tracker) {
	defer t.flight.done()
	defer j.done.fire()
	j.runRest()
}

// runRest releases the lifetimes from next on. If a release calls
// runtime.Goexit, the deferred call goes on with the rest while the Goexit
// unwinds.
func (j *closeAllJob) runRest() {
	returned := false
	defer func() {
		if !returned {
			j.record(errGoexit(j.ls[j.current()]))
			j.advance()
			j.runRest()
		}
	}()
	for i := j.current(); i < len(j.ls); i = j.advance() {
		j.release(j.ls[i])
	}
	returned = true
}

// release runs one lifetime's release. A Guard's cleanup gets the guard's
// own context, as Run would give it, bounded by CloseAll's deadline.
func (j *closeAllJob) release(l *lifetime) {
	j.mu.Lock()
	j.started = time.Now()
	j.mu.Unlock()
	ctx := j.ctx
	if l.kind == kGuard && l.flags&flMember == 0 {
		ctx = l.ctx
		if d, ok := j.ctx.Deadline(); ok && l.ctx.Err() == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(l.ctx, d)
			defer cancel()
		}
	}
	trig := TriggerShutdown
	if l.state.Load()&stLeaked != 0 {
		// Leaked inside a testing/synctest bubble: this is the release
		// ReleaseOnLeak could not run from outside it (see reportLeak).
		// Its handle is garbage; ReleaseTrigger says so.
		trig = TriggerGC
	}
	res := release{l: l, trig: trig, flights: 1}.run(ctx)
	if err := reportPanic(l, res); err != nil {
		j.record(err)
	}
}

func (j *closeAllJob) current() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next
}

func (j *closeAllJob) advance() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.next++
	j.started = time.Time{}
	return j.next
}

// record keeps a release's error for CloseAll to return, or, once CloseAll
// has given up, hands it to otel.Handle.
func (j *closeAllJob) record(err error) {
	j.mu.Lock()
	if !j.gaveUp {
		j.errs = append(j.errs, err)
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	var pe *PanicError
	if !errors.As(err, &pe) { // a panic was handed to otel.Handle already
		otel.Handle(err)
	}
}

// giveUp ends the span of every lifetime the job has not finished: the
// releases go on in the background.
func (j *closeAllJob) giveUp() {
	j.mu.Lock()
	j.gaveUp = true
	rest := j.ls[min(j.next, len(j.ls)):]
	ran := time.Duration(-1)
	if !j.started.IsZero() {
		ran = time.Since(j.started)
	}
	j.errs = append(j.errs, j.ctx.Err())
	j.mu.Unlock()
	for i, l := range rest {
		if !l.finished() {
			l.abandon(j.ctx.Err(), TriggerShutdown, ran)
		}
		if i == 0 {
			ran = -1 // the others had not started
		}
	}
}

func (j *closeAllJob) takeErrs() []error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.errs
}

// Flush waits until the work on the Tracker's own goroutines is done: the
// leak reports queued so far (their spans ended), releases started by
// CloseAsync, CloseAll, CloseOnCancel and ReleaseOnLeak, and stragglers
// that outlived their deadline. It returns ctx's error if that work
// outlasts ctx, else nil, by ctx's deadline at the latest. It never waits
// for a Close running on a caller's goroutine. It reports nothing and
// releases nothing.
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
