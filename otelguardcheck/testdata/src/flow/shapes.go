// Other shapes a function can take: closures (checked on their own, with
// their own results), init and blank functions, an acquire in an if's or a
// switch's init, and a handle wrapped in an expression.
package flow

import (
	"context"
	"errors"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closures(ctx context.Context) {
	open := func() (r *otelguard.Resource[int]) {
		r = otelguard.Acquire(ctx, "conn", 1, release)
		return
	}
	leaky := func() {
		r := otelguard.Acquire(ctx, "conn", 2, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the end of the function \(line 21\) is reached`
		println(r.Value())
	}
	go func() {
		g := otelguard.NewGuard(ctx, "worker", cleanup)
		defer g.Run()
	}()
	defer open().Close(ctx)
	leaky()
}

func init() {
	g := otelguard.NewGuard(context.Background(), "init", cleanup) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path`
	_ = g
}

func _() {
	otelguard.NewScope(context.Background(), "blank") // want `discarded`
}

func ifInit(ctx context.Context) error {
	if r := otelguard.Acquire(ctx, "conn", 1, release); r.Value() > 0 { // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 41 is reached`
		return errors.New("positive")
	} else {
		return r.Close(ctx)
	}
}

func switchInit(ctx context.Context) error {
	switch r := otelguard.Acquire(ctx, "conn", 1, release); r.Value() {
	case 0:
		return r.Close(ctx)
	default:
		return errors.Join(errors.New("nonzero"), r.Close(ctx))
	}
}

// A handle wrapped in an expression that keeps it.
func wrapped(ctx context.Context) []any {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	return []any{(r)}
}
