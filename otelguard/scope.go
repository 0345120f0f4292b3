package otelguard

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// A Scope is a stack of cleanups released newest first, like Python's
// ExitStack or a function's defers: Defer and Add push, Close pops them
// all. Its lifetime is a span of kind scope; each member has its own span.
//
// A Scope must not be copied. Its methods are safe for concurrent use.
type Scope struct {
	s       *scopeState
	cleanup runtime.Cleanup
}

// Closer is what Scope.Add takes charge of: anything with
// Close(context.Context) error, including *Resource and *Scope.
type Closer interface {
	Close(ctx context.Context) error
}

// member is how a Scope closes its otelguard members with its own trigger
// and without spawning goroutines of their own.
type member interface {
	memberLifetime() *lifetime
	stopLeakWatch()
	isNil() bool
}

func (r *Resource[T]) isNil() bool { return r == nil || r.s == nil }
func (s *Scope) isNil() bool       { return s == nil || s.s == nil }

func (r *Resource[T]) memberLifetime() *lifetime { return &r.s.lifetime }
func (s *Scope) memberLifetime() *lifetime       { return &s.s.lifetime }
func (r *Resource[T]) stopLeakWatch()            { r.cleanup.Stop(); runtime.KeepAlive(r) }
func (s *Scope) stopLeakWatch()                  { s.cleanup.Stop(); runtime.KeepAlive(s) }

type scopeState struct {
	lifetime
	mu      sync.Mutex
	closed  bool
	members []scopeEntry
}

type scopeEntry struct {
	l *lifetime // a Defer'd guard or an otelguard handle's lifetime
	c Closer    // a foreign closer (l == nil), or the handle owning l
}

// NewScope starts a scope named name, as a child of the span in ctx. An
// empty name becomes "otelguard.scope"; a nil ctx is taken as
// context.Background(). WithTracker among opts is ignored.
func (t *Tracker) NewScope(ctx context.Context, name string, opts ...AcquireOption) *Scope {
	mustTracker(t, "NewScope")
	cfg := resolveAcquire(opts)
	return t.newScope(ctx, name, &cfg, 1)
}

// NewScope is Tracker.NewScope on Default(), or on the Tracker given with
// WithTracker.
func NewScope(ctx context.Context, name string, opts ...AcquireOption) *Scope {
	cfg := resolveAcquire(opts)
	t := cfg.tracker
	if t == nil {
		t = Default()
	}
	return t.newScope(ctx, name, &cfg, 1)
}

func (t *Tracker) newScope(ctx context.Context, name string, cfg *acquireConfig, skip int) *Scope {
	s := &scopeState{}
	sc := &Scope{s: s}
	t.begin(&s.lifetime, ctx, kScope, name, s, cfg, skip+1)
	if t.leakDetection() {
		sc.cleanup = runtime.AddCleanup(sc, leakCleanupKey, s.lifetime.key())
	}
	return sc
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
	st := s.s
	m := &lifetime{flags: flMember}
	st.t.begin(m, st.spanContext(), kGuard, name, guardFunc(cleanup), &acquireConfig{}, 1)
	if st.push(scopeEntry{l: m}) {
		return
	}
	st.misuse(misuseAddAfterClose, 1)
	res, _ := m.closeWith(st.ctx, TriggerScope, true, 0)
	reportPanic(m, res)
}

// Add makes the scope take charge of closing c: Close closes it in turn
// (newest first), with the scope's ctx. For an otelguard *Resource or
// *Scope the member ends with trigger scope. It panics if c is nil. On a
// scope that has already ended, c is closed at once with
// context.Background(), an error or panic from it goes to otel.Handle, and
// the call is recorded as misuse.
func (s *Scope) Add(c Closer) {
	if c == nil {
		panic("otelguard: Scope.Add: nil closer")
	}
	st := s.s
	e := scopeEntry{c: c}
	if m, ok := c.(member); ok {
		if m.isNil() {
			panic(fmt.Sprintf("otelguard: Scope.Add: nil %T", c))
		}
		e.l = m.memberLifetime()
	}
	if st.push(e) {
		return
	}
	st.misuse(misuseAddAfterClose, 1)
	// Add returns nothing: what closing at once gives goes to otel.Handle.
	p, err := closeEntry(context.Background(), e)
	switch {
	case p != nil:
		otel.Handle(err) // a *PanicError
	case err != nil && !errors.Is(err, ErrClosed):
		otel.Handle(fmt.Errorf("otelguard: closing a closer added to ended scope %q: %w", st.name, err))
	}
}

// spanContext is the scope's acquire context with the scope's span, the
// parent of its members' spans.
func (st *scopeState) spanContext() context.Context {
	if st.span == nil {
		return st.ctx
	}
	return trace.ContextWithSpan(st.ctx, st.span)
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

// release closes every member newest first, even when one fails or
// panics, and joins their errors. A member already ended elsewhere
// (ErrClosed) is not an error. The first panic goes on after all members
// were closed.
func (st *scopeState) release(ctx context.Context) error {
	ms := st.take()
	var errs []error
	var firstPanic *panicked
	for i := len(ms) - 1; i >= 0; i-- {
		p, err := closeEntry(ctx, ms[i])
		if p != nil && firstPanic == nil {
			firstPanic = p
		}
		if err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	if firstPanic != nil {
		panic(firstPanic.value)
	}
	return errors.Join(errs...)
}

// closeEntry closes one member, recovering a panic so the others still
// close.
func closeEntry(ctx context.Context, e scopeEntry) (p *panicked, err error) {
	if e.l != nil {
		res, ok := e.l.closeWith(ctx, TriggerScope, true, 0)
		if !ok {
			return nil, nil // ended elsewhere
		}
		if m, isMember := e.c.(member); isMember {
			m.stopLeakWatch()
		}
		if res.panic != nil {
			return res.panic, &PanicError{Name: e.l.name, Value: res.panic.value, Stack: res.panic.stack}
		}
		return nil, res.err
	}
	defer func() {
		if r := recover(); r != nil {
			p = &panicked{value: r, stack: debug.Stack()}
			err = &PanicError{Name: "closer", Value: r, Stack: p.stack}
		}
	}()
	return nil, e.c.Close(ctx)
}

// Close closes every member, newest first, each with ctx (detached and
// bounded by the cleanup timeout once ctx is done), then ends the scope's
// span: cleaned, or failed with error.type of the first error. Every
// member is closed even if another fails or panics; all errors are joined
// with errors.Join, and a member already closed elsewhere (ErrClosed) is
// not an error. A panic in a member goes on, after the others are closed.
//
// With a ctx that carries a deadline, the members are closed on a
// goroutine of the library's own and Close returns by the deadline, as
// Resource.Close does. A repeated Close returns ErrClosed.
func (s *Scope) Close(ctx context.Context) error {
	l := &s.s.lifetime
	won, report := l.claimRelease()
	if !won {
		return l.waitFinished(ctx)
	}
	s.cleanup.Stop()
	c := releaseCall{l: l, trig: TriggerClose, report: report}
	res := c.run(ctx, false)
	runtime.KeepAlive(s)
	if res.panic != nil {
		panic(res.panic.value)
	}
	return res.err
}

// Disarm ends the scope without releasing anything: otelguard members end
// disarmed (trigger disarm), nested scopes' members too, and foreign
// closers are dropped. The caller takes
// over whatever the members held (Python's ExitStack.pop_all). It does
// nothing on a scope that has already ended.
func (s *Scope) Disarm() {
	l := &s.s.lifetime
	if !l.disarm() {
		return
	}
	s.cleanup.Stop()
	runtime.KeepAlive(s)
}

// disarmMembers ends every otelguard member disarmed (a nested scope's
// members with it) and drops foreign closers; the scope takes no more.
func (st *scopeState) disarmMembers() {
	for _, e := range st.take() {
		if e.l != nil && e.l.disarm() {
			if m, isMember := e.c.(member); isMember {
				m.stopLeakWatch()
			}
		}
	}
}

// leaked handles the members of a scope whose handle was found
// unreachable. Without ReleaseOnLeak, member guards are reported leaked
// with the scope, and other members are let go, so that their own leak
// detection can see them. With ReleaseOnLeak, the scope's release closes
// them all.
func (st *scopeState) leaked() {
	for _, e := range st.take() {
		if e.l != nil && e.l.flags&flMember != 0 {
			e.l.reportLeak()
		}
	}
}
