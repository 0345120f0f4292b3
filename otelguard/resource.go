package otelguard

import (
	"context"
	"io"
	"runtime"
)

// A Resource is a value with an explicit, possibly slow release: a
// connection, a file, a lock, a transaction. Its lifetime is a span of kind
// resource that starts at Acquire and ends when Close, CloseAsync or Detach
// ends it, when CloseOnCancel releases it, or when leak detection finds the
// handle dropped.
//
// A Resource must not be copied. Its methods are safe for concurrent use;
// the release runs at most once.
type Resource[T any] struct {
	s       *resState[T]
	cleanup runtime.Cleanup
}

// resState is the argument side of a Resource: the value and its release
// live here, not in the handle, so leak detection can see the handle go.
type resState[T any] struct {
	lifetime
	value T
	fn    func(context.Context, T) error
}

func (s *resState[T]) release(ctx context.Context) error { return s.fn(ctx, s.value) }

// Acquire starts a resource named name holding value, released by
// release(ctx, value), as a child of the span in ctx. It panics if release
// is nil. An empty name becomes "otelguard.resource"; a nil ctx is taken as
// context.Background(). It uses Default() unless opts holds WithTracker.
//
// Leak detection watches the returned handle. A value or release that
// references the handle itself keeps the handle reachable and silently
// disables detection for it.
func Acquire[T any](ctx context.Context, name string, value T, release func(context.Context, T) error, opts ...AcquireOption) *Resource[T] {
	if release == nil {
		panic("otelguard: Acquire: nil release function")
	}
	cfg := resolveAcquire(opts)
	return acquire(ctx, name, value, release, &cfg, 1)
}

// Track is Acquire with value.Close as the release, for any io.Closer. It
// panics if value is a nil interface; a typed nil pointer is passed to its
// Close like any other value.
func Track[T io.Closer](ctx context.Context, name string, value T, opts ...AcquireOption) *Resource[T] {
	if any(value) == nil {
		panic("otelguard: Track: nil value")
	}
	cfg := resolveAcquire(opts)
	return acquire(ctx, name, value, closeValue[T], &cfg, 1)
}

func closeValue[T io.Closer](_ context.Context, v T) error { return v.Close() }

func acquire[T any](ctx context.Context, name string, value T, release func(context.Context, T) error, cfg *acquireConfig, skip int) *Resource[T] {
	t := cfg.tracker
	if t == nil {
		t = Default()
	}
	s := &resState[T]{value: value, fn: release}
	r := &Resource[T]{s: s}
	t.begin(&s.lifetime, ctx, kResource, name, s, cfg, skip+1)
	if t.leakDetection() {
		r.cleanup = runtime.AddCleanup(r, leakCleanupKey, s.lifetime.key())
	}
	return r
}

// Value returns the value. Calling it after the lifetime ended (Close,
// Detach, CloseOnCancel, CloseAll) is misuse: the first such call is
// recorded as a short span named otelguard.misuse, linked to the
// lifetime's span, with otelguard.misuse.kind use_after_close (or
// use_after_detach) and the calling stack. The value is returned anyway.
func (r *Resource[T]) Value() T {
	if st := r.s.state.Load(); st&stClaimed != 0 {
		kind := misuseUseAfterClose
		if st&stDetached != 0 {
			kind = misuseUseAfterDetach
		}
		r.s.misuse(kind, 1)
	}
	return r.s.value
}

// Close releases the resource with ctx (with the resource's span, so the
// release's own spans nest under it) and ends the span: cleaned when the
// release returns nil, failed when it returns an error or panics,
// timed_out when it outlives ctx's deadline.
//
// With a ctx that carries a deadline, the release runs on a goroutine of
// its own and Close returns by the deadline; a release that ignores its ctx
// goes on in the background (Shutdown waits for it) and Close returns an
// error wrapping ctx.Err(). Without a deadline, the release runs on the
// calling goroutine. With a ctx that is already done (a cancelled task
// cleaning up), the release gets context.WithoutCancel(ctx) bounded by the
// cleanup timeout, and the span records otelguard.cleanup.detached=true.
//
// A panic in the release ends the span failed and goes on to Close's
// caller with the same value (from a release run on its own goroutine,
// without its original stack; after the deadline it can only go to
// otel.Handle).
//
// The release runs at most once. A repeated or concurrent Close runs
// nothing: it waits for a release in flight (bounded by its ctx) and
// returns an error wrapping ErrClosed; `defer r.Close(ctx)` after an
// explicit Close is normal and not misuse.
func (r *Resource[T]) Close(ctx context.Context) error {
	won, report := r.s.claimRelease()
	if !won {
		return r.s.waitFinished(ctx)
	}
	r.cleanup.Stop()
	c := releaseCall{l: &r.s.lifetime, trig: TriggerClose, report: report}
	res := c.run(ctx, false)
	runtime.KeepAlive(r)
	if res.panic != nil {
		panic(res.panic.value)
	}
	return res.err
}

// CloseAsync is Close on a goroutine of the library's own. The returned
// channel is buffered and receives exactly one value: Close's error. A
// panic in the release does not crash the process: it is reported through
// otel.Handle and received as a *PanicError. Shutdown waits for releases
// started by CloseAsync.
func (r *Resource[T]) CloseAsync(ctx context.Context) <-chan error {
	ch := make(chan error, 1)
	l := &r.s.lifetime
	won, report := l.claimRelease()
	if !won {
		if l.finished() {
			ch <- ErrClosed
			return ch
		}
		l.t.flight.add()
		go func() {
			defer l.t.flight.done()
			ch <- l.waitFinished(ctx)
		}()
		return ch
	}
	r.cleanup.Stop()
	runtime.KeepAlive(r)
	l.t.flight.add()
	go func() {
		defer l.t.flight.done()
		sent := false
		defer func() {
			if !sent { // the release called runtime.Goexit
				ch <- errGoexit(l)
			}
		}()
		c := releaseCall{l: l, trig: TriggerClose, report: report, flights: 1}
		res := c.run(ctx, false)
		err := reportPanic(l, res)
		if res.goexit {
			err = errGoexit(l)
		}
		ch <- err
		sent = true
	}()
	return ch
}

// Detach ends the lifetime without releasing (outcome disarmed, trigger
// disarm) and returns the value: ownership moves elsewhere. Called after
// the lifetime ended, it releases nothing, records misuse
// (detach_after_close) and returns the value.
func (r *Resource[T]) Detach() T {
	v := r.s.value
	if r.s.disarmAs(stDetached) {
		r.cleanup.Stop()
		runtime.KeepAlive(r)
	} else {
		r.s.misuse(misuseDetachAfterClose, 1)
	}
	return v
}

// Name returns the name the resource was acquired with.
func (r *Resource[T]) Name() string { return r.s.name }
