package otelguard

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
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

// Lifetime state bits. A lifetime's state only gains bits, each by one
// compare-and-swap, so every decision is made exactly once:
//
//   - stClaimed: somebody owns the release: it runs (Close, Run, cancel,
//     CloseAll, ReleaseOnLeak) or never will (Disarm, Detach, a leak
//     without ReleaseOnLeak). A release runs at most once.
//   - stReported: the span's outcome is decided. Whoever sets it ends the
//     span; nobody else touches it.
//
// That the release returned (or will never run) is told by waiters holding
// finishedSentinel; see finish.
//
// The claim that starts a release sets stReported too, in the same swap,
// unless Shutdown or a leak report already ended the span: the lifetime
// can still be released then, but reports nothing more.
const (
	stClaimed uint32 = 1 << iota
	stReported
	stMisused
	stDetached
	stLeaked
	stHeld // the hold threshold passed while the lifetime was open
)

// Lifetime flags, fixed at acquire.
const (
	flRecording     uint8 = 1 << iota // the span records: set end attributes
	flReleaseOnLeak                   // ReleaseOnLeak
	flCancelWatch                     // CloseOnCancel armed a context.AfterFunc
	flMember                          // owned by a Scope: no handle of its own
	flClock                           // acquiredAt holds the acquire time
)

// lifetime is the argument side of a handle: everything needed to end a
// lifetime, and nothing that reaches the handle, so that a runtime cleanup
// attached to the handle can fire. Guard, Resource and Scope embed it in
// their state.
type lifetime struct {
	t     *Tracker
	state atomic.Uint32
	kind  kind
	flags uint8

	registered bool   // guarded by the registry shard's mutex
	slot       uint32 // the registry slot; set once, by add
	seq        uint64 // acquire order

	name       string
	acquiredAt int64           // monotonic nanoseconds since clockEpoch
	span       trace.Span      // nil when the tracker starts no spans
	ctx        context.Context // the acquire context (without the lifetime's span)
	stack      *stack          // acquire program counters; nil without stacks
	rel        releaser

	m       *metricAttrs                  // nil when the tracker measures nothing
	timers  *lifetimeTimers               // hold threshold, CloseOnCancel, Touch records, if any
	relCtx  spanCtx                       // the release's context, when it is not ctx
	waiters atomic.Pointer[chan struct{}] // closed when the release finishes
}

// spanCtx is the context a release gets: the caller's context with the
// lifetime's span as the current span, as trace.ContextWithSpan would make
// it. It lives in the lifetime (its relCtx field, and nowhere else), which
// releases at most once, so passing it allocates nothing.
type spanCtx struct {
	context.Context
	flights int64 // slots of l.t's inflight that this release's goroutines hold
}

// lifetime returns the lifetime c is the relCtx of. A spanCtx exists only
// as that field and is only ever used through a pointer to it, so its
// lifetime is a fixed offset away; keeping no pointer back keeps every
// lifetime a word smaller (a Resource's state in the 176-byte size class).
func (c *spanCtx) lifetime() *lifetime {
	return (*lifetime)(unsafe.Add(unsafe.Pointer(c), -int(unsafe.Offsetof(lifetime{}.relCtx))))
}

// releasingKey is the context key under which a release's context answers
// the lifetime being released: how Close, Flush, Shutdown and CloseAll
// called from inside a release know not to wait for themselves.
type releasingKey struct{}

// releasing returns the innermost lifetime whose release ctx runs in,
// and the context that release was given.
func releasing(ctx context.Context) *spanCtx {
	if ctx == nil {
		return nil
	}
	l, _ := ctx.Value(releasingKey{}).(*lifetime)
	if l == nil {
		return nil
	}
	return &l.relCtx
}

// reentrant reports whether ctx is (derived from) the context of l's own
// release: a Close of l from inside its release.
func (l *lifetime) reentrant(ctx context.Context) bool {
	for rc := releasing(ctx); rc != nil; rc = releasing(rc.Context) {
		if rc.lifetime() == l {
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
		if rc.lifetime().t == t {
			n += rc.flights
		}
	}
	return n
}

// spanKeyProbe answers, for any key, whether it is the key under which
// package trace stores the current span: it holds probeSpan under that key
// and nothing else.
var (
	probeSpan    = &struct{ trace.Span }{}
	spanKeyProbe = trace.ContextWithSpan(context.Background(), probeSpan)
)

func (c *spanCtx) Value(key any) any {
	l := c.lifetime()
	if _, ok := key.(releasingKey); ok {
		return l
	}
	if l.span != nil {
		if v, ok := spanKeyProbe.Value(key).(*struct{ trace.Span }); ok && v == probeSpan {
			return l.span
		}
	}
	return c.Context.Value(key)
}

const leakStatus = "handle became unreachable without Close, Run or Disarm"

// lifetimeTimers holds what few lifetimes have, out of line to keep every
// lifetime small: set at acquire, before the lifetime is published.
//
// It also holds the Touch records (LeakDetectionParanoid): the few
// lifetimes that need any of these share one pointer, which keeps every
// lifetime a word smaller (and a Resource's state a size class smaller).
type lifetimeTimers struct {
	hold   *time.Timer                 // the hold threshold's timer
	watch  atomic.Pointer[func() bool] // CloseOnCancel's AfterFunc stop
	access atomic.Pointer[accessRing]  // Touch records (LeakDetectionParanoid)
}

// stopTimers stops the hold timer and the CloseOnCancel watch.
func (l *lifetime) stopTimers() {
	if x := l.timers; x != nil {
		if x.hold != nil {
			x.hold.Stop()
		}
		if stop := x.watch.Load(); stop != nil {
			(*stop)()
		}
	}
}

// finishedSentinel marks waiters after the release finished.
var finishedSentinel = new(chan struct{})

// claimRelease takes the release. won is false if another path has it.
// report is true if the caller also owns the span's end.
func (l *lifetime) claimRelease() (won, report bool) {
	for {
		s := l.state.Load()
		if s&stClaimed != 0 {
			return false, false
		}
		if l.state.CompareAndSwap(s, s|stClaimed|stReported) {
			return true, s&stReported == 0
		}
	}
}

// claimReport takes the span's end without taking the release.
func (l *lifetime) claimReport() bool {
	for {
		s := l.state.Load()
		if s&stReported != 0 {
			return false
		}
		if l.state.CompareAndSwap(s, s|stReported) {
			return true
		}
	}
}

// setBit sets a flag bit and reports whether this call set it.
func (l *lifetime) setBit(bit uint32) bool {
	for {
		s := l.state.Load()
		if s&bit != 0 {
			return false
		}
		if l.state.CompareAndSwap(s, s|bit) {
			return true
		}
	}
}

// finish marks the release as done: it wakes waiters and unregisters the
// lifetime. It is called once, by the owner of the release.
func (l *lifetime) finish() {
	if w := l.waiters.Swap(finishedSentinel); w != nil && w != finishedSentinel {
		close(*w)
	}
	l.stopTimers()
	l.t.reg.remove(l)
	if l.flags&flCancelWatch != 0 {
		l.t.watches.Add(-1)
	}
	if l.m != nil {
		l.t.meters.recordFinish(l.m)
	}
}

// finished reports whether the release has returned (or will never run).
func (l *lifetime) finished() bool { return l.waiters.Load() == finishedSentinel }

// waitFinished is what a Close that lost the claim does: it waits for an
// in-flight release, bounded by ctx, and returns ErrClosed.
func (l *lifetime) waitFinished(ctx context.Context) error {
	if l.finished() || l.reentrant(ctx) {
		// Finished, or called from inside the release in flight, which
		// would be waiting for itself.
		return ErrClosed
	}
	var ch chan struct{}
	for {
		w := l.waiters.Load()
		if w == finishedSentinel {
			return ErrClosed
		}
		if w != nil {
			ch = *w
			break
		}
		c := make(chan struct{})
		if l.waiters.CompareAndSwap(nil, &c) {
			ch = c
			break
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-ch:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("%w; gave up waiting for the release in flight: %w", ErrClosed, ctx.Err())
	}
}

// disarm ends the lifetime without running the release.
func (l *lifetime) disarm() bool { return l.disarmAs(0) }

// disarmAs is disarm that also sets extra state bits in the same swap.
func (l *lifetime) disarmAs(extra uint32) bool {
	var report bool
	for {
		s := l.state.Load()
		if s&stClaimed != 0 {
			return false
		}
		if l.state.CompareAndSwap(s, s|stClaimed|stReported|extra) {
			report = s&stReported == 0
			break
		}
	}
	defer l.finish() // even if ending the span panics
	if l.kind == kScope {
		// A scope disarmed releases nothing: its members end disarmed
		// too, nested scopes' included, and it takes no more.
		l.rel.(*scopeState).disarmMembers()
	}
	if report {
		l.endSpan(OutcomeDisarmed, TriggerDisarm)
	}
	return true
}

func errGoexit(l *lifetime) error {
	return fmt.Errorf("otelguard: release of %q called runtime.Goexit", l.name)
}

// panicked carries a release's panic from where it was recovered to where
// it is decided what to do with it.
type panicked struct {
	value any
	stack []byte
}

// relResult is how one release went.
type relResult struct {
	err      error
	panic    *panicked
	goexit   bool // the release called runtime.Goexit
	timedOut bool // the caller stopped waiting at the deadline
}

// withGoexitErr gives a release that called runtime.Goexit on a worker
// goroutine an error, so that its caller does not see success.
func (r relResult) withGoexitErr(l *lifetime) relResult {
	if r.goexit && r.err == nil {
		r.err = errGoexit(l)
	}
	return r
}

// releaseCall is one run of a release: who asked, and what to record.
type releaseCall struct {
	l        *lifetime
	trig     Trigger
	report   bool  // this call ends the span
	leak     bool  // ReleaseOnLeak: the outcome is leaked_without_close whatever the release did
	flights  int64 // inflight slots the calling goroutine holds (it runs on a library goroutine)
	detached bool
	timed    bool
	start    time.Time
	ctx      context.Context

	// for a release run on a worker goroutine to honour a deadline
	handoff atomic.Int32 // 0 running, 1 delivered to the caller, 2 abandoned
	result  chan relResult
}

// run runs the release with ctx and ends the lifetime. A release whose
// context carries a deadline runs on a worker goroutine, so run returns by
// the deadline even if the release ignores its context (the release goes
// on as a straggler that Shutdown waits for); otherwise, or when inline is
// set, it runs on the calling goroutine. A context that is already done is
// replaced by context.WithoutCancel of it, bounded by the cleanup timeout.
//
// A panic in the release is returned in the result, never re-raised here;
// a runtime.Goexit in an inline release ends the lifetime and goes on.
func (c *releaseCall) run(ctx context.Context, inline bool) relResult {
	l := c.l
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), l.t.cleanupTimeout())
		defer cancel()
		c.detached = true
	}
	// The release's context carries the lifetime: its own spans nest under
	// the lifetime's span, and the tracker can tell a call made from inside
	// the release (see releasing).
	flights := c.flights
	if !inline {
		if _, ok := ctx.Deadline(); ok {
			flights++ // the worker's slot
		}
	}
	l.relCtx = spanCtx{Context: ctx, flights: flights}
	ctx = &l.relCtx
	c.ctx = ctx
	c.timed = l.flags&flRecording != 0 || l.m != nil
	if c.timed {
		c.start = time.Now()
	}
	if !inline {
		if _, ok := ctx.Deadline(); ok {
			return c.runWorker(ctx)
		}
	}
	return c.runInline(ctx)
}

func (c *releaseCall) runInline(ctx context.Context) (res relResult) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if r := recover(); r != nil {
			res.panic = &panicked{value: r, stack: debug.Stack()}
			c.complete(&res)
			return
		}
		// runtime.Goexit: nothing after the call will run.
		res.goexit = true
		c.complete(&res)
	}()
	res.err = c.l.rel.release(ctx)
	normal = true
	c.complete(&res)
	return res
}

func (c0 *releaseCall) runWorker(ctx context.Context) relResult {
	// The worker shares a copy on the heap, so that the common inline path
	// keeps its releaseCall on the stack.
	c := &releaseCall{l: c0.l, trig: c0.trig, report: c0.report, leak: c0.leak, detached: c0.detached,
		timed: c0.timed, start: c0.start, ctx: c0.ctx, result: make(chan relResult, 1)}
	c.l.t.flight.add()
	go c.work(ctx)
	select {
	case res := <-c.result:
		c.complete(&res)
		return res.withGoexitErr(c.l)
	case <-ctx.Done():
	}
	if !c.handoff.CompareAndSwap(0, 2) {
		// The release finished as the deadline came; take its result.
		res := <-c.result
		c.complete(&res)
		return res.withGoexitErr(c.l)
	}
	res := relResult{timedOut: true, err: fmt.Errorf("otelguard: release of %q abandoned at its deadline: %w", c.l.name, ctx.Err())}
	c.endReport(&res) // the straggler finishes the lifetime when it returns
	return res
}

func (c *releaseCall) work(ctx context.Context) {
	defer c.l.t.flight.done()
	var res relResult
	normal := false
	defer func() {
		if !normal {
			if r := recover(); r != nil {
				res.panic = &panicked{value: r, stack: debug.Stack()}
			} else {
				res.goexit = true
			}
		}
		if c.handoff.CompareAndSwap(0, 1) {
			c.result <- res
			return
		}
		// Abandoned at the deadline: the span has ended; finish quietly.
		if res.panic != nil {
			otel.Handle(&PanicError{Name: c.l.name, Value: res.panic.value, Stack: res.panic.stack})
		}
		c.l.finish()
	}()
	res.err = c.l.rel.release(ctx)
	normal = true
}

// complete ends the span (if this call owns it) and finishes the lifetime.
// The lifetime is finished even if ending the span panics (a synchronous
// span processor that panics): its release has returned, and waiters must
// not wait for it forever.
func (c *releaseCall) complete(res *relResult) {
	defer c.l.finish()
	c.endReport(res)
}

func (c *releaseCall) endReport(res *relResult) {
	if !c.report {
		return
	}
	l := c.l
	cleanup := time.Duration(-1)
	if c.timed {
		cleanup = time.Since(c.start)
	}
	rec := l.flags&flRecording != 0
	var buf [12]attribute.KeyValue
	attrs := buf[:0]
	outcome := OutcomeCleaned
	var statusMsg string
	switch {
	case res.timedOut:
		outcome = OutcomeTimedOut
		attrs = append(attrs, errorTypeTimeout)
		statusMsg = res.err.Error()
	case res.panic != nil:
		outcome = OutcomeFailed
		attrs = append(attrs, errorTypePanic)
		statusMsg = fmt.Sprintf("release panicked: %v", res.panic.value)
		if rec {
			l.span.AddEvent("exception", trace.WithAttributes(
				semconv.ExceptionType(fmt.Sprintf("%T", res.panic.value)),
				semconv.ExceptionMessage(fmt.Sprint(res.panic.value)),
				semconv.ExceptionStacktrace(string(res.panic.stack)),
			))
		}
	case res.goexit:
		outcome = OutcomeFailed
		attrs = append(attrs, errorTypeGoexit)
		statusMsg = "release called runtime.Goexit"
	case res.err != nil:
		if errors.Is(res.err, context.DeadlineExceeded) && c.ctx != nil && c.ctx.Err() != nil {
			outcome = OutcomeTimedOut
			attrs = append(attrs, errorTypeTimeout)
		} else {
			outcome = OutcomeFailed
			if rec {
				attrs = append(attrs, errorType(res.err))
			}
		}
		statusMsg = res.err.Error()
	}
	if rec && cleanup >= 0 {
		attrs = append(attrs, CleanupDurationKey.Float64(float64(cleanup)/float64(time.Millisecond)))
	}
	if c.detached {
		attrs = append(attrs, CleanupDetachedKey.Bool(true))
	}
	if c.leak {
		outcome = OutcomeLeaked
		statusMsg = leakStatus
		attrs = append(attrs, LeakReleasedKey.Bool(true))
		if rec {
			attrs = l.appendReportAttrs(attrs)
		}
	}
	l.conclude(outcome, c.trig, statusMsg, attrs, cleanup)
}

// endSpan ends a lifetime whose release did not run (disarmed, leaked,
// open at shutdown).
func (l *lifetime) endSpan(o Outcome, trig Trigger) {
	var buf [4]attribute.KeyValue
	attrs := buf[:0]
	msg := ""
	switch o {
	case OutcomeLeaked:
		msg = leakStatus
		fallthrough
	case OutcomeOpenAtShutdown:
		if l.flags&flRecording != 0 {
			attrs = l.appendReportAttrs(attrs)
		}
	}
	l.conclude(o, trig, msg, attrs, -1)
}

// appendReportAttrs adds what a report of an unreleased lifetime carries:
// the acquire stack and the access records.
func (l *lifetime) appendReportAttrs(attrs []attribute.KeyValue) []attribute.KeyValue {
	if l.stack != nil {
		attrs = append(attrs, StacktraceKey.String(l.stackText()))
	}
	if recs := l.accessRecords(); len(recs) > 0 {
		attrs = append(attrs, AccessRecordsKey.StringSlice(recs))
	}
	return attrs
}

// conclude records the end of a lifetime whose outcome this caller owns:
// metrics (whatever the sampling), the hold threshold's return, and the
// span's end attributes, status and end. cleanup is the release's run
// time, or negative when no release ran.
func (l *lifetime) conclude(o Outcome, trig Trigger, statusMsg string, attrs []attribute.KeyValue, cleanup time.Duration) {
	if x := l.timers; x != nil && x.hold != nil {
		x.hold.Stop()
	}
	if l.m != nil {
		l.t.meters.recordEnd(l.ctx, l.m, o, l.age(), cleanup)
	}
	held := l.state.Load()&stHeld != 0
	if held {
		l.holdReturned(o)
	}
	if l.span == nil {
		return
	}
	if l.flags&flRecording == 0 {
		l.span.End()
		return
	}
	if held {
		attrs = append(attrs, HoldExceededKey.Bool(true))
	}
	l.endSpanWith(o, trig, statusMsg, attrs)
}

// endSpanWith sets the end attributes in one call (one allocation) and
// ends the span. extra is copied.
func (l *lifetime) endSpanWith(o Outcome, trig Trigger, statusMsg string, extra []attribute.KeyValue) {
	attrs := make([]attribute.KeyValue, 2, 2+len(extra))
	attrs[0] = OutcomeKey.String(string(o))
	attrs[1] = TriggerKey.String(string(trig))
	attrs = append(attrs, extra...)
	l.span.SetAttributes(attrs...)
	switch o {
	case OutcomeFailed, OutcomeTimedOut, OutcomeLeaked:
		l.span.SetStatus(codes.Error, statusMsg)
	}
	l.span.End()
}

// errorType is error.type for err; for an errors.Join it is the first
// error's type, which is what a reader of the trace wants to see.
func errorType(err error) attribute.KeyValue {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if es := j.Unwrap(); len(es) > 0 && es[0] != nil {
			return errorType(es[0])
		}
	}
	return semconv.ErrorType(err)
}
