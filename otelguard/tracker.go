package otelguard

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelguard/otelguard-go/internal/sitecount"
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
// A Tracker lives from New (for the zero Tracker, its first acquire)
// until Shutdown, as a TracerProvider does, whether or not the program
// keeps a reference to it: every leak of its lifetimes is found and
// reported. After Shutdown it lives on only while lifetimes it watches
// are open. A Tracker never shut down lives as long as the process: shut
// down what you create.
type Tracker struct {
	cfg config

	tracer atomic.Pointer[tracerState]
	reg    registry
	flight inflight
	leaks  leakBook
	scan   leakScan
	sites  sitecount.Table[siteKey] // leak sampling's counters
	logs   siteLimits               // the leak log's per-site limits
	finds  siteLimits               // the findings' per-site limits

	meterOnce sync.Once
	meters    *meters

	watches atomic.Int64  // registered lifetimes with a CloseOnCancel watch
	id      atomic.Uint32 // its number in the trackers table; 0 until enrolled
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
	t.meterOnce.Do(func() {})
	t.enroll()
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
			trace.WithInstrumentationVersion(version),
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

// cleanupTimeout bounds a release on a detached context; 0 means none.
func (t *Tracker) cleanupTimeout() time.Duration {
	switch d := t.cfg.cleanupTimeout; {
	case d == 0:
		return defaultCleanupTimeout
	case d < 0:
		return 0
	default:
		return d
	}
}

// detached is ctx without its cancellation, bounded by the cleanup
// timeout: what a release gets when the context it was given is done
// (a cancelled task cleaning up) or when nobody gave it one.
func (t *Tracker) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if d := t.cleanupTimeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// stackDepth is how many frames an acquire stack keeps; 0 means none.
func (t *Tracker) stackDepth() int {
	switch n := t.cfg.stackDepth; {
	case n == 0:
		return defaultStackDepth
	case n < 0:
		return 0
	default:
		return n
	}
}

func (t *Tracker) leakDetection() bool { return t.cfg.leakSampling >= 0 }

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
// if that work outlasts ctx, else nil. With very many lifetimes open, what
// it has not reported when ctx is done is reported on a goroutine of the
// library's own, which a later Flush waits for. It never waits for a Close
// running on a caller's goroutine; such a lifetime, already being
// released, ends with its own outcome.
//
// Shutdown is terminal, as an OpenTelemetry provider's is: a second call
// returns nil at once and does nothing. It releases nothing: a lifetime it
// reports can still be closed, and its release still runs then (recording
// nothing more); if its handle is dropped instead, leak detection still
// finds it (and ReleaseOnLeak still runs its release). Lifetimes acquired
// after it still work — their releases run, and a ReleaseOnLeak release
// still runs when its handle is dropped — but start no span and are not
// tracked (Live, metrics). Call it before shutting down the
// TracerProvider, so that the spans it ends are exported. With a
// synchronous span processor it waits on the exporter for each span it
// ends.
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
	ls := t.reg.snapshot()
	for i, l := range ls {
		if i%1024 == 1023 && ctx.Err() != nil {
			rest := ls[i:]
			t.flight.add()
			go func() {
				defer t.flight.done()
				for _, l := range rest {
					l.reportOpenAtShutdown()
				}
			}()
			break
		}
		l.reportOpenAtShutdown()
	}
	err := t.wait(ctx)
	t.flushLogs()
	t.flushFindings()
	t.retire()
	return err
}

// reportOpenAtShutdown ends the span of a lifetime that nothing is
// releasing as open_at_shutdown: a missed close.
func (l *lifetime) reportOpenAtShutdown() {
	if l.flags&flUntracked != 0 {
		return
	}
	if _, ok := l.update(stReported, stReported|stClaimed); ok {
		l.endSpan(OutcomeOpenAtShutdown, TriggerShutdown)
	}
}

// wait waits for the library's own goroutines, bounded by ctx. A
// CloseOnCancel lifetime whose context is done but whose release nobody
// has claimed yet (context.AfterFunc's goroutine is starting) is claimed
// here and released on a goroutine of the library's, so that cancel()
// followed by Flush or Shutdown reliably sees the release: whoever wins
// the claim runs it. A release claimed by a caller's Close does not
// count.
func (t *Tracker) wait(ctx context.Context) error {
	held := t.heldFlights(ctx)
	if t.watches.Load() > 0 {
		for _, l := range t.reg.all() {
			if l.flags&flCancelWatch != 0 && l.ctx.Err() != nil && l.state.Load()&stClaimed == 0 {
				t.flight.add() // before the claim: see onCancel
				go l.cancelRelease()
			}
		}
	}
	if t.flight.wait(ctx.Done(), held) {
		return nil
	}
	return ctx.Err()
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
