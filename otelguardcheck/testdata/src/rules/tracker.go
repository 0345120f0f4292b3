// The package-level functions acquire on the Tracker WithTracker names, and
// Tracker.CloseAll ends every lifetime still open.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func trackerGuard(ctx context.Context, t *otelguard.Tracker) error {
	g := otelguard.NewGuard(ctx, "lock", rollback, otelguard.WithTracker(t)) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the return on line 14`
	println(g != nil)
	return work()
}

func trackerScope(ctx context.Context, t *otelguard.Tracker) {
	otelguard.NewScope(ctx, "s", otelguard.WithTracker(t)) // want `the \*otelguard.Scope from NewScope is discarded`
}

func trackerCloseAll(ctx context.Context, t *otelguard.Tracker) error {
	g := otelguard.NewGuard(ctx, "lock", rollback, otelguard.WithTracker(t))
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
	_ = otelguard.NewGuard(ctx, "b", rollback, otelguard.WithTracker(t))
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
	otelguard.NewScope(ctx, "s", otelguard.WithTracker(t))
}
