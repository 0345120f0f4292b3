// Hand-off: CloseOnCancel() gives the release to a context that can be
// done; on a context that is never done it changes nothing.
package handoff

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closeOnCancel(ctx context.Context) {
	r := otelguard.Acquire(ctx, "lease", 1, release, otelguard.CloseOnCancel())
	_ = r.Value()
	otelguard.Acquire(ctx, "lease", 2, release, otelguard.ReleaseOnLeak(), otelguard.CloseOnCancel())
}

func closeOnCancelGuard(ctx context.Context) {
	otelguard.NewGuard(ctx, "job", cleanup, otelguard.CloseOnCancel())
}

func closeOnCancelBackground() {
	otelguard.Acquire(context.Background(), "lease", 1, release, otelguard.CloseOnCancel()) // want `the \*otelguard.Resource from Acquire is discarded`
}

func closeOnCancelTODO() {
	r := otelguard.Acquire(context.TODO(), "lease", 1, release, otelguard.CloseOnCancel()) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	_ = r
}

func closeOnCancelWithoutCancel(ctx context.Context) {
	otelguard.Acquire(context.WithoutCancel(ctx), "lease", 1, release, otelguard.CloseOnCancel()) // want `discarded`
}

// Other options hand nothing off.
func otherOptions(ctx context.Context, t *otelguard.Tracker) {
	otelguard.Acquire(ctx, "lease", 1, release, otelguard.WithTracker(t), otelguard.ReleaseOnLeak()) // want `discarded`
}

// Options the analyzer cannot see may hold CloseOnCancel: taken as a hand-off.
func unseenOptions(ctx context.Context, opts ...otelguard.AcquireOption) {
	otelguard.Acquire(ctx, "lease", 1, release, opts...)
	opt := otelguard.CloseOnCancel()
	otelguard.Acquire(ctx, "lease", 1, release, opt)
}
