// Generics: Resource[T] of any T, acquired in generic code, passed to
// generic helpers of this package.
package flow

import (
	"context"
	"io"

	"github.com/otelguard/otelguard-go/otelguard"
)

func trackAny[T io.Closer](ctx context.Context, v T) error {
	r := otelguard.Track(ctx, "closer", v) // want `r \(\*otelguard.Resource from Track\) is not closed on every path: the return on line 16 is reached`
	var zero T
	if any(r.Value()) == any(zero) {
		return nil
	}
	return r.Close(ctx)
}

func closeIt[T any](ctx context.Context, r *otelguard.Resource[T]) error { return r.Close(ctx) }

func peek[T any](r *otelguard.Resource[T]) T { return r.Value() }

func acquireGeneric[T any](ctx context.Context, v T, rel func(context.Context, T) error) T {
	r := otelguard.Acquire(ctx, "value", v, rel)
	defer closeIt(ctx, r)
	return peek(r)
}

func acquireGenericLeaks[T any](ctx context.Context, v T, rel func(context.Context, T) error) T {
	r := otelguard.Acquire(ctx, "value", v, rel) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	return peek(r)
}

// A generic type of this package keeping handles.
type pool[T any] struct{ free []*otelguard.Resource[T] }

func (p *pool[T]) put(r *otelguard.Resource[T]) { p.free = append(p.free, r) }

func (p *pool[T]) size(r *otelguard.Resource[T]) int { return len(p.free) }

func pooled(ctx context.Context, p *pool[string]) {
	r := otelguard.Acquire(ctx, "s", "x", func(context.Context, string) error { return nil })
	p.put(r)
}

func notPooled(ctx context.Context, p *pool[string]) int {
	r := otelguard.Acquire(ctx, "s", "x", func(context.Context, string) error { return nil }) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	return p.size(r)
}

// Resource of a handle: its Value is not an acquire.
func resourceOfGuard(ctx context.Context) {
	g := otelguard.NewGuard(ctx, "inner", cleanup)
	r := otelguard.Acquire(ctx, "outer", g, func(ctx context.Context, g *otelguard.Guard) error { return g.Run() })
	defer r.Close(ctx)
	_ = r.Value().Disarm
}
