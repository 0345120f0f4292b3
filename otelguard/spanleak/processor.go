package spanleak

import (
	"context"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/internal/sitecount"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The finding values and the kind this package reports with.
const (
	findingNotEnded   = "span_not_ended"
	findingAtShutdown = "open_at_shutdown"
	kindSpan          = "span"
)

var _ sdktrace.SpanProcessor = (*processor)(nil)

// processor is what NewProcessor returns.
type processor struct {
	tracker  *otelguard.Tracker
	sampling uint64                    // > 1: sample per site; 0: watch every span
	off      bool                      // WithSampling(n < 0)
	depth    int                       // frames kept; 0: no stack
	sites    *sitecount.Table[siteKey] // nil unless sampling > 1
	reg      registry
	shut     atomic.Bool
	reports  reportQueue
}

// NewProcessor returns a SpanProcessor that watches the spans it sees
// start (per site: the first 16, then one in 128 by default; see
// WithSampling) and reports
// each one that became unreachable without End — dropped by the code that
// started it — as a finding span_not_ended, and each one still open when
// the processor shuts down as a finding open_at_shutdown. Register it
// with the TracerProvider beside the processors that export:
//
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(spanleak.NewProcessor()),
//		sdktrace.WithBatcher(exporter),
//	)
//
// See the package documentation for what a finding carries, what it
// costs, and which configurations keep spans reachable (and so hide them).
//
// The processor is safe for concurrent use, as the SDK requires. OnStart
// and OnEnd never block on anything slow: no exporter, no lock shared by
// every span (the registry of watched spans is striped). ForceFlush waits
// for findings already queued; Shutdown reports what is open and stops
// watching. Neither shuts down the Tracker.
func NewProcessor(opts ...Option) sdktrace.SpanProcessor {
	c := newConfig(opts)
	p := &processor{tracker: c.tracker, depth: c.depth, off: c.sampling < 0}
	if c.sampling > 1 {
		p.sampling = uint64(c.sampling)
		p.sites = new(sitecount.Table[siteKey])
	}
	p.reports.emit = p.emit
	p.reports.grace = endGrace
	return p
}

// watch is what the processor keeps of a watched span, and the argument
// of its runtime cleanup. Nothing in it reaches the span (values only: its
// IDs, name, start time, program counters; and the processor, which
// holds watches, never spans), so a span dropped without End becomes
// unreachable and its cleanup runs (GODEBUG=checkfinalizers=1 checks it).
type watch struct {
	p       *processor
	seq     uint64
	key     spanKey // the span's IDs: the registry's key
	name    string
	scope   string
	sc      trace.SpanContext
	start   time.Time
	pcs     []uintptr
	cleanup runtime.Cleanup // set before the span can end, under the stripe's lock

	// state decides, once, between OnEnd (watchEnded) and the runtime
	// cleanup (watchCollected); the cleanup claims it under
	// reportQueue.mu (see push).
	state     atomic.Int32
	due       time.Time // when a report of it may be made; guarded by reportQueue.mu
	cancelled bool      // its OnEnd came after it was found; guarded by reportQueue.mu
}

// OnStart watches s if sampling picks it: it captures the start stack and
// adds a runtime cleanup to the span. Called by the SDK on the goroutine
// that starts the span; it takes one stripe's lock of the registry and
// nothing else.
func (p *processor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if p.off || p.shut.Load() {
		return
	}
	scope := s.InstrumentationScope().Name
	if scope == otelguard.ScopeName {
		// otelguard's own spans (lifetimes, findings) are ended by
		// otelguard, which finds their leaks itself.
		return
	}
	name := s.Name()
	if p.sites != nil && !p.sites.Watched(siteKey{scope, name}, p.sampling) {
		return
	}
	addr := spanAddr(s)
	if addr == nil {
		return
	}
	var buf [maxStackDepth + stackSlack]uintptr
	var pcs []uintptr
	if p.depth > 0 {
		pcs = startStack(buf[:p.depth+stackSlack], p.depth)
	}
	w := newWatch(len(pcs))
	w.pcs = append(w.pcs, pcs...)
	w.p = p
	w.name = name
	w.scope = scope
	w.sc = s.SpanContext()
	w.key = keyOf(w.sc)
	w.start = s.StartTime()
	if !p.reg.add(w) {
		return // a watched open span has the same IDs: see registry
	}
	// The cleanup cannot run before it is set: s is reachable until
	// OnStart returns, and nothing can end s before tracer.Start returns
	// it. The stripe's lock orders the write before OnEnd's read.
	p.reg.setCleanup(w, runtime.AddCleanup((*byte)(addr), collected, w))
	runtime.KeepAlive(s)
}

// OnEnd stops watching s. Called by the SDK when s ends, with a snapshot
// of the span (not the object OnStart saw): the registry is keyed by the
// span's IDs.
func (p *processor) OnEnd(s sdktrace.ReadOnlySpan) {
	k := keyOf(s.SpanContext())
	w := p.reg.remove(k, 0)
	if w == nil {
		// Not registered (not watched), or no longer: the collector found
		// the span while its End was on the way here, and queued its
		// report before it unregistered it. Cancel it (see endGrace).
		p.reports.cancel(k, false)
		return
	}
	if w.state.CompareAndSwap(watchOpen, watchEnded) {
		w.cleanup.Stop()
		return
	}
	// The runtime cleanup claimed it first, under the queue's lock: the
	// report is queued, or being queued; cancel waits for that lock.
	p.reports.cancel(k, true)
}

// spanAddr is the address of the span object s holds: what the code that
// started the span references, and what the runtime cleanup watches. Nil
// if s is not a pointer (the SDK's spans always are).
func spanAddr(s sdktrace.ReadOnlySpan) unsafe.Pointer {
	v := reflect.ValueOf(s)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	return v.UnsafePointer()
}

// A watch's states.
const (
	watchOpen int32 = iota
	watchEnded
	watchCollected
)

// collected runs on the runtime's cleanup goroutine when a watched span
// became unreachable before it ended. It only queues the report.
// It queues before it unregisters, so that once a span is out of the
// registry, ForceFlush waits for its report.
func collected(w *watch) {
	w.p.reports.push(w)
	w.p.reg.remove(w.key, w.seq)
}

func init() {
	bridge.OpenSpans = func(sp any) int {
		if p, ok := sp.(*processor); ok {
			return p.reg.open()
		}
		return 0
	}
}

// emit reports w as a span never ended, on the report goroutine.
func (p *processor) emit(w *watch) {
	p.report(w, findingNotEnded, time.Now())
}

func (p *processor) report(w *watch, what string, now time.Time) {
	age := time.Duration(-1)
	if !w.start.IsZero() {
		age = now.Sub(w.start)
	}
	var attrs []attribute.KeyValue
	if w.scope != "" {
		attrs = []attribute.KeyValue{attribute.String("otel.scope.name", w.scope)}
	}
	var site uint64 // 0: the core tells sites by the stack
	if len(w.pcs) == 0 {
		site = siteKey{w.scope, w.name}.Hash() | 1
	}
	bridge.EmitFinding(p.tracker, bridge.Finding{
		Site:         site,
		Kind:         what,
		Name:         w.name,
		LifetimeKind: kindSpan,
		Link:         w.sc,
		Age:          age,
		PCs:          w.pcs,
		Attrs:        attrs,
		Log:          true,
	})
}

// ForceFlush waits until every finding queued so far (spans the runtime
// found dropped) has been emitted through the Tracker, or ctx is done.
// Each waits a second after it is found, for an End in progress to
// cancel it (see the package doc), so ForceFlush may wait that long. It
// does not force a collection, and does not flush the Tracker's providers.
func (p *processor) ForceFlush(ctx context.Context) error {
	return p.reports.wait(ctx)
}

// Shutdown stops watching: spans started from now on are not watched, and
// each watched span still open is reported as a finding open_at_shutdown
// (on the calling goroutine), its runtime cleanup stopped. It first waits
// for queued findings, as ForceFlush does, bounded by ctx. Only the first
// call does anything; later calls return nil.
//
// Shutting down a TracerProvider shuts its processors down in the order
// they were registered: register this processor before the one that
// exports, so that findings sent to the same provider are exported.
func (p *processor) Shutdown(ctx context.Context) error {
	if !p.shut.CompareAndSwap(false, true) {
		return nil
	}
	err := p.reports.wait(ctx)
	open := p.reg.drain()
	now := time.Now()
	n := 0
	for _, w := range open {
		// Claimed as ended: a runtime cleanup running now queues nothing.
		if w.state.CompareAndSwap(watchOpen, watchEnded) {
			w.cleanup.Stop()
			open[n] = w
			n++
		}
	}
	for _, w := range open[:n] {
		p.report(w, findingAtShutdown, now)
	}
	return err
}

// otelFrame reports whether pc is in OpenTelemetry's own code
// (go.opentelemetry.io/otel/...: the SDK, the global delegating tracer),
// which the start stack leaves out. Contrib instrumentation
// (go.opentelemetry.io/contrib/...) is kept: it is the code that started
// the span. Decisions are cached per PC; the set of PCs is bounded by the
// program's code.
func otelFrame(pc uintptr) bool {
	if v, ok := otelPCs.Load(pc); ok {
		return v.(bool)
	}
	is := false
	if f := runtime.FuncForPC(pc - 1); f != nil {
		is = strings.HasPrefix(f.Name(), "go.opentelemetry.io/otel/") || strings.HasPrefix(f.Name(), "go.opentelemetry.io/otel.")
	}
	otelPCs.Store(pc, is)
	return is
}

var otelPCs sync.Map // uintptr → bool

// stackSlack is how many frames of otel's own, past the SDK's
// tracer.Start, startStack is ready to skip: the global delegating tracer
// (otel.Tracer before a provider is set) adds one.
const stackSlack = 4

// startStack returns up to depth program counters of the stack that
// started the span, innermost first, from the first frame outside
// OpenTelemetry: the code that called Tracer.Start. It fills buf, which
// has room for depth+stackSlack.
func startStack(buf []uintptr, depth int) []uintptr {
	// Skip runtime.Callers, startStack, OnStart and the SDK's
	// tracer.Start, which calls OnStart.
	n := runtime.Callers(4, buf)
	i := 0
	for i < n && i < stackSlack && otelFrame(buf[i]) {
		i++
	}
	return buf[i:min(n, i+depth)]
}
