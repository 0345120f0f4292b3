// Package otelguard is a stand-in for github.com/otelguard/otelguard-go/otelguard
// in the analyzer's tests: the declarations the analyzer looks at, with the
// real package's signatures (TestStubMatchesOtelguard compares them), and
// bodies that only compile. The tests load it in GOPATH mode, so they need
// neither the core module nor its OpenTelemetry dependencies.
package otelguard

import (
	"context"
	"io"
	"time"
)

type Tracker struct{}

type Option interface{ apply() }

type AcquireOption struct{ op uint8 }

type Guard struct{ name string }

type Resource[T any] struct{ value T }

type Scope struct{ name string }

func New(opts ...Option) *Tracker { return new(Tracker) }

func Default() *Tracker { return new(Tracker) }

func (t *Tracker) Shutdown(ctx context.Context) error { return nil }

func (t *Tracker) CloseAll(ctx context.Context) error { return nil }

func (t *Tracker) Flush(ctx context.Context) error { return nil }

func WithTracker(t *Tracker) AcquireOption { return AcquireOption{} }

func CloseOnCancel() AcquireOption { return AcquireOption{} }

func ReleaseOnLeak() AcquireOption { return AcquireOption{} }

func WithHoldThreshold(d time.Duration) AcquireOption { return AcquireOption{} }

func NewGuard(ctx context.Context, name string, cleanup func(context.Context) error, opts ...AcquireOption) *Guard {
	return &Guard{name: name}
}

func (g *Guard) Run() error { return nil }

func (g *Guard) Disarm() bool { return true }

func (g *Guard) Name() string { return "" }

func Acquire[T any](ctx context.Context, name string, value T, release func(context.Context, T) error, opts ...AcquireOption) *Resource[T] {
	return &Resource[T]{value: value}
}

func Track[T io.Closer](ctx context.Context, name string, value T, opts ...AcquireOption) *Resource[T] {
	return &Resource[T]{value: value}
}

func (r *Resource[T]) Value() T { return r.value }

func (r *Resource[T]) Close(ctx context.Context) error { return nil }

func (r *Resource[T]) CloseAsync(ctx context.Context) <-chan error { return nil }

func (r *Resource[T]) Detach() T { return r.value }

func (r *Resource[T]) Name() string { return "" }

func NewScope(ctx context.Context, name string, opts ...AcquireOption) *Scope {
	return &Scope{name: name}
}

func (s *Scope) Defer(name string, cleanup func(context.Context) error) {}

func (s *Scope) Add(c interface{ Close(context.Context) error }) {}

func (s *Scope) Close(ctx context.Context) error { return nil }

func (s *Scope) Disarm() {}

func (s *Scope) Name() string { return "" }
