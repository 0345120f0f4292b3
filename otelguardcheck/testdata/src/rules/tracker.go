// The Tracker's methods acquire as the package-level functions do, and
// Tracker.CloseAll ends every lifetime still open.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func trackerGuard(ctx context.Context, t *otelguard.Tracker) error {
	g := t.NewGuard(ctx, "lock", rollback) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the return on line 14`
	println(g != nil)
	return work()
}

func trackerScope(ctx context.Context, t *otelguard.Tracker) {
	t.NewScope(ctx, "s") // want `the \*otelguard.Scope from NewScope is discarded`
}

func trackerCloseAll(ctx context.Context, t *otelguard.Tracker) error {
	g := t.NewGuard(ctx, "lock", rollback)
	r := otelguard.Acquire(ctx, "conn", 1, release, otelguard.WithTracker(t))
	_ = g
	_ = r
	return t.CloseAll(ctx)
}

// Shutdown reports what is open; it releases nothing.
func trackerShutdown(ctx context.Context, t *otelguard.Tracker) error {
	r := otelguard.Acquire(ctx, "conn", 1, release, otelguard.WithTracker(t)) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	_ = r
	return t.Shutdown(ctx)
}

// A discarded handle is ended by a CloseAll that follows on every path, or
// that an earlier defer runs.
func trackerCloseAllDiscarded(ctx context.Context, t *otelguard.Tracker) error {
	otelguard.Acquire(ctx, "a", 1, release, otelguard.WithTracker(t))
	_ = t.NewGuard(ctx, "b", rollback)
	return t.CloseAll(ctx)
}

func trackerCloseAllOnOnePath(ctx context.Context, t *otelguard.Tracker, ok bool) error {
	otelguard.Acquire(ctx, "a", 1, release, otelguard.WithTracker(t)) // want `the \*otelguard.Resource from Acquire is discarded`
	if ok {
		return t.CloseAll(ctx)
	}
	return nil
}

func trackerDeferredCloseAll(ctx context.Context, t *otelguard.Tracker) {
	defer t.CloseAll(ctx)
	t.NewScope(ctx, "s")
}
