// Hand-off: a handle sent on a channel is the receiver's to end.
package handoff

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func sent(ctx context.Context, ch chan<- *otelguard.Resource[int]) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	ch <- r
}

func sentDirectly(ctx context.Context, ch chan<- *otelguard.Guard) {
	ch <- otelguard.NewGuard(ctx, "lock", cleanup)
}

// Sent from a select: the case that sends hands it off, the other one
// must end it itself.
func sentInSelect(ctx context.Context, ch chan<- *otelguard.Resource[int]) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	select {
	case ch <- r:
	case <-ctx.Done():
		_ = r.Close(ctx)
	}
}

func sentInSelectOrDropped(ctx context.Context, ch chan<- *otelguard.Resource[int]) {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 35 is reached`
	select {
	case ch <- r:
	case <-ctx.Done():
		return
	}
}
