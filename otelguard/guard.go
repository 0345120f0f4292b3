package otelguard

import (
	"context"
	"fmt"
	"runtime"

	"go.opentelemetry.io/otel"
)

// A Guard is a deferred cleanup that can be disarmed: Go's form of Rust's
// Drop guard (or scopeguard). Its lifetime is a span of kind guard that
// starts at NewGuard and ends when Run or Disarm is called.
//
//	rollback := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return tx.Rollback() })
//	defer rollback.Run()
//	if err := debitAndCredit(ctx, tx); err != nil {
//		return err // rolled back: outcome cleaned, trigger defer
//	}
//	rollback.Disarm() // outcome disarmed
//	return tx.Commit()
//
// A Guard must not be copied. Its methods are safe for concurrent use;
// exactly one of them ends the lifetime. A nil *Guard is inert: Run
// returns nil, Disarm false and Name "".
type Guard struct {
	handle
}

// guardBox holds a Guard and its lifetime in one allocation, for
// lifetimes without leak detection (off, or not picked by leak sampling):
// nothing then needs the handle to be separate.
type guardBox struct {
	g Guard
	l lifetime
}

// NewGuard starts a guard named name around cleanup, as a child of the
// span in ctx. cleanup runs at most once, when Run is called; Disarm
// prevents it. It panics if cleanup is nil. An empty name becomes
// "otelguard.guard"; a nil ctx is taken as context.Background(). It uses
// the Tracker given with WithTracker, else the one ctx carries
// (ContextWithTracker), else Default().
//
// cleanup gets ctx (with the guard's span, so its own spans nest under it);
// if ctx is done by the time cleanup runs, it gets context.WithoutCancel(ctx)
// bounded by the cleanup timeout instead.
func NewGuard(ctx context.Context, name string, cleanup func(context.Context) error, opts ...AcquireOption) *Guard {
	if cleanup == nil {
		panic("otelguard: NewGuard: nil cleanup function")
	}
	cfg := resolveAcquire(opts)
	return cfg.trackerFor(ctx).newGuard(ctx, name, cleanup, &cfg, 1)
}

func (t *Tracker) newGuard(ctx context.Context, name string, cleanup func(context.Context) error, cfg *acquireConfig, skip int) *Guard {
	rel := guardFunc(cleanup)
	if !t.detects(ctx, name, kGuard, cleanup, cfg) {
		b := &guardBox{}
		b.g.l = &b.l
		t.begin(&b.l, ctx, kGuard, name, rel, cfg, false, skip+1)
		return &b.g
	}
	g := &Guard{handle{l: &lifetime{}}}
	t.begin(g.l, ctx, kGuard, name, rel, cfg, true, skip+1)
	watch(g, &g.handle)
	return g
}

// Run runs the cleanup unless the guard was disarmed or already run, and
// returns its error; a later call, or a call after Disarm, returns nil.
// It is meant for `defer g.Run()`, and runs the cleanup on the calling
// goroutine: Run returns when the cleanup does. The outcome follows the
// cleanup's result as Resource.Close's does.
//
// Deferred directly (`defer g.Run()`) while a panic unwinds, Run ends the
// span with trigger panic, runs the cleanup, and lets the same panic value
// go on. If the cleanup panics too, the original panic goes on and the
// cleanup's is reported through otel.Handle. Run cannot tell a panic apart
// when it is called from inside another deferred function, nor see
// runtime.Goexit (t.FailNow): those, like a direct call, record trigger
// defer.
//
// Outside a panic, a panic in the cleanup ends the span failed and goes on
// to Run's caller unchanged, with the stack of the function that
// panicked: nothing recovers it.
//
// A Run that finds the cleanup running on a goroutine of the library's
// own (CloseAll, CloseOnCancel) waits for it to return, bounded by the
// guard's context, then returns nil; a cleanup run there must not call
// Run on its own guard. A Run that finds the cleanup running on a
// caller's goroutine (another Run, or this cleanup calling Run on its own
// guard) returns nil at once: Run has no context to bound a wait with, and
// cannot tell the two apart.
func (g *Guard) Run() error {
	if p := recover(); p != nil {
		g.runPanicking(p)
		panic(p)
	}
	if g == nil || g.l == nil {
		return nil
	}
	l := g.l
	if !l.claim() {
		if l.state.Load()&stLibrary != 0 {
			l.waitFinished(l.ctx)
		}
		return nil
	}
	g.cleanup.Stop()
	defer runtime.KeepAlive(g) // across the cleanup, even if it panics
	return release{l: l, trig: TriggerDefer}.run(l.ctx).err
}

func (g *Guard) runPanicking(p any) {
	if g == nil || g.l == nil {
		return
	}
	l := g.l
	if !l.claim() {
		return
	}
	g.cleanup.Stop()
	res := release{l: l, trig: TriggerPanic, recover: true}.run(l.ctx)
	runtime.KeepAlive(g)
	if res.panic != nil {
		otel.Handle(fmt.Errorf("otelguard: cleanup of %q panicked while a panic was unwinding (%v): %w", l.name, p,
			&PanicError{Name: l.name, Value: res.panic.value, Stack: res.panic.stack}))
	}
}

// Disarm ends the guard without running the cleanup (outcome disarmed,
// trigger disarm). It returns true if this call disarmed it, false if the
// cleanup already ran, is running, or the guard was already disarmed.
func (g *Guard) Disarm() bool {
	if g == nil || g.l == nil {
		return false
	}
	return g.disarm(0)
}

// Name returns the name the guard was started with (after the defaults and
// the length limit NewGuard applies).
func (g *Guard) Name() string {
	if g == nil || g.l == nil {
		return ""
	}
	return g.l.name
}
