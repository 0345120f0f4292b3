// Rule: r.Value() after r.Close (or CloseAsync, Detach) on every path to it.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func valueAfterClose(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	_ = r.Close(ctx)
	return r.Value() // want `r.Value\(\) after r.Close on line 12: the lifetime has ended`
}

func valueAfterDetach(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	v := r.Detach()
	return v + r.Value() // want `r.Value\(\) after r.Detach on line 18`
}

func valueAfterCloseAsync(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	done := r.CloseAsync(ctx)
	defer func() { <-done }()
	return r.Value() // want `r.Value\(\) after r.CloseAsync on line 24`
}

// A parameter counts as well: the rule is about the handle, not its acquire.
func valueAfterCloseParam(ctx context.Context, r *otelguard.Resource[int]) int {
	if err := r.Close(ctx); err != nil {
		return 0
	}
	return r.Value() // want `r.Value\(\) after r.Close on line 31`
}

// Closed on both branches: still closed after the join.
func valueAfterCloseBothBranches(ctx context.Context, fast bool) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	if fast {
		<-r.CloseAsync(ctx)
	} else {
		_ = r.Close(ctx)
	}
	return r.Value() // want `r.Value\(\) after r.CloseAsync on line 41`
}

// Closed under a condition only: no report, whatever the condition says.
// (The deferred Close keeps the leak rule quiet: it cannot see that the two
// conditions cover every case either.)
func valueAfterConditionalClose(ctx context.Context, early bool) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	defer r.Close(ctx)
	if early {
		_ = r.Close(ctx)
	}
	v := 0
	if !early {
		v = r.Value()
		_ = r.Close(ctx)
	}
	return v
}

// Value before Close, a deferred Close, and a handle assigned again: fine.
func valueBeforeClose(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	defer r.Close(ctx)
	v := r.Value()
	_ = r.Close(ctx)
	r = otelguard.Acquire(ctx, "conn", 2, release)
	defer r.Close(ctx)
	return v + r.Value()
}

// In a loop the Close of one iteration reaches the Value of the next, but
// the first iteration reaches it with r open: not every path has closed r,
// so nothing is reported. (A false negative the must-analysis accepts so
// that a Value it reports is always one after a Close.)
func valueAfterCloseInLoop(ctx context.Context, r *otelguard.Resource[int]) (sum int) {
	for range 3 {
		sum += r.Value()
		_ = r.Close(ctx)
	}
	return sum
}
