package otelguard

import (
	"context"
	"io"
)

// A Resource is a value with an explicit, possibly slow release: a
// connection, a file, a lock, a transaction. Its lifetime is a span of kind
// resource that starts at Acquire and ends when Close, CloseAsync or Detach
// ends it, when CloseOnCancel releases it, or when leak detection finds the
// handle dropped.
//
// A Resource must not be copied. Its methods are safe for concurrent use;
// the release runs at most once. A nil *Resource is inert: Close returns
// ErrClosed, CloseAsync a channel holding ErrClosed, Value and Detach the
// zero value, Name "".
type Resource[T any] struct {
	handle
}

// resState is the argument side of a Resource: the value and its release
// live here, with the lifetime, not in the handle, so leak detection can
// see the handle go.
type resState[T any] struct {
	lifetime
	value T
	fn    func(context.Context, T) error
}

func (s *resState[T]) release(ctx context.Context) error { return s.fn(ctx, s.value) }

// Acquire starts a resource named name holding value, released by
// release(ctx, value), as a child of the span in ctx. It panics if release
// is nil. An empty name becomes "otelguard.resource"; a nil ctx is taken as
// context.Background(). It uses the Tracker given with WithTracker, else
// the one ctx carries (ContextWithTracker), else Default().
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

// resBox holds a Resource and its state in one allocation, for lifetimes
// without leak detection: nothing then needs the handle to be separate.
type resBox[T any] struct {
	r Resource[T]
	s resState[T]
}

func acquire[T any](ctx context.Context, name string, value T, release func(context.Context, T) error, cfg *acquireConfig, skip int) *Resource[T] {
	t := cfg.trackerFor(ctx)
	if !t.detects(ctx, name, kResource, release, cfg) {
		b := &resBox[T]{s: resState[T]{value: value, fn: release}}
		b.r.l = &b.s.lifetime
		t.begin(&b.s.lifetime, ctx, kResource, name, &b.s, cfg, false, skip+1)
		return &b.r
	}
	s := &resState[T]{value: value, fn: release}
	r := &Resource[T]{handle{l: &s.lifetime}}
	t.begin(&s.lifetime, ctx, kResource, name, s, cfg, true, skip+1)
	watch(r, &r.handle)
	return r
}

func (r *Resource[T]) state() *resState[T] { return r.l.rel.(*resState[T]) }

// Value returns the value. Calling it after the lifetime ended (Close,
// Detach, CloseOnCancel, CloseAll) is misuse: the first such call is
// recorded as a short span named otelguard.misuse, linked to the
// lifetime's span, with otelguard.misuse.kind use_after_close (or
// use_after_detach) and the calling stack. The value is returned anyway.
// A lifetime that Shutdown reported open, or that a Scope's Disarm handed
// back, has not ended: its Value is not misuse.
func (r *Resource[T]) Value() T {
	if r == nil || r.l == nil {
		var zero T
		return zero
	}
	if st := r.l.state.Load(); st&stClaimed != 0 {
		kind := misuseUseAfterClose
		if st&stDetached != 0 {
			kind = misuseUseAfterDetach
		}
		r.l.misuse(kind, 1)
	}
	return r.state().value
}

// Close releases the resource on the calling goroutine, with ctx (with the
// resource's span, so the release's own spans nest under it), and ends
// the span with the outcome the release's result gives:
//
//	nil                                          cleaned
//	an error wrapping context.DeadlineExceeded   timed_out (error.type=timeout)
//	any other error, context.Canceled included   failed (error.type of the error)
//	a panic                                      failed; the panic goes on
//
// Close runs the release where it is called, whatever ctx carries: it
// starts no goroutine and returns when the release does. The release is
// expected to honour ctx; for a release bounded whatever it does, use
// CloseAsync. With a ctx that is already done (a cancelled task cleaning
// up), the release gets context.WithoutCancel(ctx) bounded by the cleanup
// timeout, and the span records otelguard.cleanup.detached=true.
//
// A panic in the release ends the span failed and goes on to Close's
// caller with the same value and its original stack.
//
// The release runs at most once. A repeated or concurrent Close runs
// nothing: it waits for a release in flight (bounded by its ctx) and
// returns an error wrapping ErrClosed; `defer r.Close(ctx)` after an
// explicit Close is normal and not misuse.
func (r *Resource[T]) Close(ctx context.Context) error {
	if r == nil || r.l == nil {
		return ErrClosed
	}
	return r.closeInline(ctx, TriggerClose)
}

// CloseAsync releases the resource on a goroutine of the library's own,
// bounded by ctx. The returned channel is buffered and receives exactly
// one value, by ctx's deadline at the latest: the release's error (a
// panic as a *PanicError, also reported through otel.Handle), or, if ctx
// is done first, an error wrapping ctx.Err(). In that case the span ends
// then — timed_out at a deadline, failed when ctx is cancelled — and the
// release goes on in the background as a straggler, which Flush and
// Shutdown wait for; its late error goes to otel.Handle.
//
// With a ctx that is already done (a cancelled task cleaning up), the
// release runs on context.WithoutCancel(ctx) bounded by the cleanup
// timeout, as Close would run it, and that bound is the one the channel
// is given by. A CloseAsync that loses the claim receives what a repeated
// Close returns.
func (r *Resource[T]) CloseAsync(ctx context.Context) <-chan error {
	if r == nil || r.l == nil {
		ch := make(chan error, 1)
		ch <- ErrClosed
		return ch
	}
	return r.closeAsync(ctx)
}

// Detach ends the lifetime without releasing (outcome disarmed, trigger
// disarm) and returns the value: ownership moves elsewhere. Called after
// the lifetime ended, it releases nothing, records misuse
// (detach_after_close) and returns the value.
func (r *Resource[T]) Detach() T {
	if r == nil || r.l == nil {
		var zero T
		return zero
	}
	if !r.disarm(stDetached) {
		r.l.misuse(misuseDetachAfterClose, 1)
	}
	return r.state().value
}

// Name returns the name the resource was acquired with (after the
// defaults and the length limit Acquire applies).
func (r *Resource[T]) Name() string {
	if r == nil || r.l == nil {
		return ""
	}
	return r.l.name
}
