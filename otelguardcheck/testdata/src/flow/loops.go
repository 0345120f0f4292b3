// Loops: a lifetime acquired in a loop body must be ended before the next
// iteration acquires another into the same variable, and before the loop
// is left.
package flow

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func release(context.Context, int) error { return nil }

func cleanup(context.Context) error { return nil }

func work(int) error { return nil }

func loopClosesEachIteration(ctx context.Context, n int) {
	for i := 0; i < n; i++ {
		r := otelguard.Acquire(ctx, "conn", i, release)
		_ = work(r.Value())
		_ = r.Close(ctx)
	}
}

func loopDefersEach(ctx context.Context, items []int) {
	for _, it := range items {
		r := otelguard.Acquire(ctx, "conn", it, release)
		defer r.Close(ctx)
	}
}

// continue skips the Close: the next iteration acquires over it.
func loopContinueSkipsClose(ctx context.Context, items []int) {
	for _, it := range items {
		r := otelguard.Acquire(ctx, "conn", it, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: line 36 acquires it again \(a loop\) while it is still open`
		if work(it) != nil {
			continue
		}
		_ = r.Close(ctx)
	}
}

// break leaves the loop with the last one open.
func loopBreakSkipsClose(ctx context.Context, items []int) error {
	for _, it := range items {
		g := otelguard.NewGuard(ctx, "step", cleanup) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the return on line 53 is reached`
		if work(it) != nil {
			break
		}
		g.Disarm()
	}
	return nil
}

// A server loop that never returns: the only leak is the next iteration.
func loopForever(ctx context.Context, accept func() int) {
	for {
		r := otelguard.Acquire(ctx, "conn", accept(), release) // want `line 59 acquires it again \(a loop\)`
		if r.Value() < 0 {
			continue
		}
		go serve(ctx, r)
	}
}

func serve(ctx context.Context, r *otelguard.Resource[int]) { defer r.Close(ctx) }

// A variable declared before the loop and assigned in it.
func loopOverwrites(ctx context.Context, items []int) {
	var r *otelguard.Resource[int]
	defer func() { _ = r.Close(ctx) }()
	for _, it := range items {
		r = otelguard.Acquire(ctx, "conn", it, release) // the earlier defer covers the last one only, a false negative the analyzer accepts
	}
}

// Range over a function iterator.
func loopRangeFunc(ctx context.Context, seq func(func(int) bool)) {
	for v := range seq {
		r := otelguard.Acquire(ctx, "conn", v, release)
		_ = r.Close(ctx)
	}
}
