package otelguard

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"go.opentelemetry.io/otel"
)

// A Scope is a stack of cleanups released newest first, like Python's
// ExitStack or a function's defers: Defer and Add push, Close pops them
// all. Its lifetime is a span of kind scope; each member has its own span.
//
// A Scope must not be copied. Its methods are safe for concurrent use. A
// nil *Scope is inert: Close returns ErrClosed, Disarm does nothing, Name
// returns "", and Defer and Add panic (there is nothing to push onto).
type Scope struct {
	handle
}

// closer is what Scope.Add takes charge of: anything with
// Close(context.Context) error, including *Resource and *Scope.
type closer interface {
	Close(ctx context.Context) error
}

// member is an otelguard handle that a Scope closes itself, with trigger
// scope and on the goroutine closing the scope.
type member interface {
	handleOf() *handle
}

func (r *Resource[T]) handleOf() *handle {
	if r == nil || r.l == nil {
		return nil
	}
	return &r.handle
}

func (s *Scope) handleOf() *handle {
	if s == nil || s.l == nil {
		return nil
	}
	return &s.handle
}

type scopeState struct {
	lifetime
	mu      sync.Mutex
	closed  bool
	members []scopeEntry
}

// scopeEntry is one member: a Defer'd guard (l, with flMember), an
// otelguard handle given to Add (h), or a foreign closer (c).
type scopeEntry struct {
	l *lifetime
	h *handle
	c closer
}

// NewScope starts a scope named name, as a child of the span in ctx. An
// empty name becomes "otelguard.scope"; a nil ctx is taken as
// context.Background(). It uses the Tracker given with WithTracker, else
// the one ctx carries (ContextWithTracker), else Default().
func NewScope(ctx context.Context, name string, opts ...AcquireOption) *Scope {
	cfg := resolveAcquire(opts)
	return cfg.trackerFor(ctx).newScope(ctx, name, &cfg, 1)
}

// scopeBox holds a Scope and its state in one allocation, for scopes
// without leak detection.
type scopeBox struct {
	sc Scope
	st scopeState
}

func (t *Tracker) newScope(ctx context.Context, name string, cfg *acquireConfig, skip int) *Scope {
	if !t.detects(ctx, name, kScope, nil, cfg) {
		b := &scopeBox{}
		b.sc.l = &b.st.lifetime
		t.begin(&b.st.lifetime, ctx, kScope, name, &b.st, cfg, false, skip+1)
		return &b.sc
	}
	st := &scopeState{}
	sc := &Scope{handle{l: &st.lifetime}}
	t.begin(&st.lifetime, ctx, kScope, name, st, cfg, true, skip+1)
	watch(sc, &sc.handle)
	return sc
}

// state is the scope's state; method names the caller for the panic on a
// nil *Scope: Defer and Add would take charge of a cleanup that nothing
// could then run.
func (s *Scope) state(method string) *scopeState {
	if s == nil || s.l == nil {
		panic("otelguard: Scope." + method + " called on a nil *Scope")
	}
	return s.l.rel.(*scopeState)
}

// Defer pushes a cleanup: a member guard with a span of its own (kind
// guard, a child of the scope's span), released when the scope closes,
// with the ctx given to Close. It panics if cleanup is nil. On a scope
// that has already ended, the cleanup runs at once (with the scope's
// acquire context, detached if done), and the call is recorded as misuse
// (add_after_close).
func (s *Scope) Defer(name string, cleanup func(context.Context) error) {
	if cleanup == nil {
		panic("otelguard: Scope.Defer: nil cleanup function")
	}
	st := s.state("Defer")
	m := &lifetime{flags: flMember}
	st.t.begin(m, st.spanContext(st.ctx), kGuard, name, guardFunc(cleanup), &acquireConfig{}, false, 1)
	if st.push(scopeEntry{l: m}) {
		return
	}
	st.misuse(misuseAddAfterClose, 1)
	if m.claim() {
		release{l: m, trig: TriggerScope}.run(st.ctx) // on the caller's goroutine: a panic goes on
	}
}

// Add makes the scope take charge of closing c: Close closes it in turn
// (newest first), with the scope's ctx. For an otelguard *Resource or
// *Scope the member ends with trigger scope; while it is a member, the
// scope holds its handle, so leak detection does not report it on its
// own. It panics if c is nil. On a scope that has already ended, c is
// closed at once with context.Background(), an error or panic from it
// goes to otel.Handle, and the call is recorded as misuse.
func (s *Scope) Add(c interface{ Close(context.Context) error }) {
	if c == nil {
		panic("otelguard: Scope.Add: nil closer")
	}
	st := s.state("Add")
	e := scopeEntry{c: c}
	if m, ok := c.(member); ok {
		if e.h = m.handleOf(); e.h == nil {
			panic(fmt.Sprintf("otelguard: Scope.Add: nil %T", c))
		}
	}
	if st.push(e) {
		return
	}
	st.misuse(misuseAddAfterClose, 1)
	// Add returns nothing: an error from closing at once goes to
	// otel.Handle; a panic goes on to Add's caller.
	if err := closeEntry(context.Background(), e); !closedOnly(err) {
		otel.Handle(fmt.Errorf("otelguard: closing a closer added to ended scope %q: %w", st.name, err))
	}
}

// push adds a member unless the scope has ended.
func (st *scopeState) push(e scopeEntry) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false
	}
	st.members = append(st.members, e)
	return true
}

// take removes and returns the members; the scope accepts no more.
func (st *scopeState) take() []scopeEntry {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	ms := st.members
	st.members = nil
	return ms
}

// release closes every member newest first, even when one fails, panics
// or calls runtime.Goexit, and joins their errors. A member already ended
// elsewhere (ErrClosed) is not an error; one whose release is running
// elsewhere is waited for (bounded by ctx) before the older members are
// closed. Nothing is recovered: a member's panic (or Goexit) goes on, with
// its own stack, once the older members were closed while it unwound.
func (st *scopeState) release(ctx context.Context) error {
	c := scopeClose{ms: st.take()}
	c.i = len(c.ms) - 1
	c.closeRest(ctx)
	return errors.Join(c.errs...)
}

// scopeClose is one run of a scope's release.
type scopeClose struct {
	ms   []scopeEntry
	i    int // the member being closed; counts down
	errs []error
}

// closeRest closes members i down to 0. If one panics or calls
// runtime.Goexit, the deferred call goes on with the older ones while the
// panic or Goexit unwinds: neither is stopped, but the deferred calls they
// run can still do the scope's work. The first panic is the one that goes
// on; a later member's panic, during that unwinding, is recovered and
// reported through otel.Handle as a *PanicError.
func (c *scopeClose) closeRest(ctx context.Context) {
	returned := false
	defer func() {
		if !returned {
			c.errs = append(c.errs, fmt.Errorf("otelguard: scope member %d did not return (panic or runtime.Goexit)", c.i))
			c.i--
			c.closeRestUnwinding(ctx)
		}
	}()
	for ; c.i >= 0; c.i-- {
		if err := closeEntry(ctx, c.ms[c.i]); !closedOnly(err) {
			c.errs = append(c.errs, err)
		}
	}
	returned = true
}

// closeRestUnwinding is closeRest while a panic or Goexit unwinds: a
// member's panic is recovered (closeUnwinding); a member's Goexit goes on,
// the deferred call closing the rest.
func (c *scopeClose) closeRestUnwinding(ctx context.Context) {
	returned := false
	defer func() {
		if !returned {
			c.errs = append(c.errs, fmt.Errorf("otelguard: scope member %d called runtime.Goexit", c.i))
			c.i--
			c.closeRestUnwinding(ctx)
		}
	}()
	for ; c.i >= 0; c.i-- {
		c.closeUnwinding(ctx, c.ms[c.i])
	}
	returned = true
}

// closeUnwinding closes a member while an earlier member's panic or
// Goexit unwinds: a panic of its own is recovered and reported, so that
// the first goes on unchanged.
func (c *scopeClose) closeUnwinding(ctx context.Context, e scopeEntry) {
	defer func() {
		if v := recover(); v != nil {
			name := fmt.Sprintf("%T", e.c)
			if l := e.lifetime(); l != nil {
				name = l.name
			}
			otel.Handle(&PanicError{Name: name, Value: v, Stack: debug.Stack()})
		}
	}()
	if err := closeEntry(ctx, e); !closedOnly(err) {
		c.errs = append(c.errs, err)
	}
}

// lifetime is the member's lifetime; nil for a foreign closer.
func (e scopeEntry) lifetime() *lifetime {
	if e.h != nil {
		return e.h.l
	}
	return e.l
}

// closedOnly reports whether err is nothing to report from closing a
// member: nil, or ErrClosed for a member ended elsewhere (but not a wait
// for its release that gave up).
func closedOnly(err error) bool {
	return err == nil || (errors.Is(err, ErrClosed) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled))
}

// closeEntry closes one member on the calling goroutine. A member whose
// release runs elsewhere is waited for.
func closeEntry(ctx context.Context, e scopeEntry) error {
	l := e.lifetime()
	if l == nil {
		return e.c.Close(ctx)
	}
	if !l.claim() {
		return l.waitFinished(ctx)
	}
	if e.h != nil {
		e.h.cleanup.Stop()
		defer runtime.KeepAlive(e.h)
	}
	return release{l: l, trig: TriggerScope}.run(ctx).err
}

// Close closes every member, newest first, each with ctx, then ends the
// scope's span: cleaned, or with the outcome the joined error gives (as
// Resource.Close's). It runs on the calling goroutine, whatever ctx
// carries. Every member is closed even if another fails, panics or calls
// runtime.Goexit; all errors are joined with errors.Join, and a member
// already closed elsewhere (ErrClosed) is not an error. A panic in a
// member goes on, after the others are closed. With a ctx that is already
// done, the members get context.WithoutCancel(ctx) bounded by the cleanup
// timeout. A member whose release is running elsewhere when its turn
// comes (its owner's Close, CloseAll) is waited for, bounded by ctx,
// before the older members are closed and the scope's span ends. A
// repeated Close returns ErrClosed.
func (s *Scope) Close(ctx context.Context) error {
	if s == nil || s.l == nil {
		return ErrClosed
	}
	return s.closeInline(ctx, TriggerClose)
}

// Disarm ends the scope without releasing anything (Python's
// ExitStack.pop_all): cleanups given with Defer end disarmed (trigger
// disarm); Resources and Scopes given with Add are handed back untouched —
// still open, still watched by leak detection, their handles fully usable
// (Value is not misuse, Close releases them and ends them cleaned);
// foreign closers are dropped. It does nothing on a scope that has already
// ended.
func (s *Scope) Disarm() {
	if s == nil || s.l == nil {
		return
	}
	s.disarm(0)
}

// Name returns the name the scope was started with (after the defaults
// and the length limit NewScope applies).
func (s *Scope) Name() string {
	if s == nil || s.l == nil {
		return ""
	}
	return s.l.name
}

// disarmMembers ends every member guard disarmed and lets go of the rest;
// the scope takes no more.
func (st *scopeState) disarmMembers() {
	for _, e := range st.take() {
		if e.l != nil {
			e.l.disarm(0)
		}
	}
}

// leaked handles the members of a scope whose handle was found
// unreachable and whose release will not run: member guards are reported
// leaked with the scope; other members are let go, so that their own leak
// detection can see them.
func (st *scopeState) leaked() {
	for _, e := range st.take() {
		if e.l != nil {
			e.l.reportLeak()
		}
	}
}
