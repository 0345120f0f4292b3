// select: each case is its own path; a send in one case hands off on that
// path only.
//
// bodyclose #30 (https://github.com/timakin/bodyclose/issues/30): a ticker
// loop whose select closes the body in each case through a helper was
// reported as leaking.
package flow

import (
	"context"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

func selectEveryCase(ctx context.Context, done <-chan struct{}, out chan<- *otelguard.Resource[int]) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	select {
	case <-done:
		_ = r.Close(ctx)
	case out <- r:
	case <-ctx.Done():
		<-r.CloseAsync(context.WithoutCancel(ctx))
	}
}

func selectDefaultDrops(ctx context.Context, done <-chan struct{}) {
	g := otelguard.NewGuard(ctx, "lock", cleanup) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the end of the function \(line 34\) is reached`
	select {
	case <-done:
		g.Disarm()
	default:
	}
}

func closeResponse(ctx context.Context, r *otelguard.Resource[int]) {
	if err := r.Close(ctx); err != nil {
		println(err.Error())
	}
}

// The shape of bodyclose #30: acquire per tick, closed through a helper on
// every path, continue on error.
func isAppReady(ctx context.Context, shutdown <-chan bool, check func() (int, error)) bool {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-shutdown:
			return false
		case <-ticker.C:
			code, err := check()
			r := otelguard.Acquire(ctx, "health.response", code, release)
			if err != nil {
				closeResponse(ctx, r)
				continue
			}
			if r.Value() == 200 {
				closeResponse(ctx, r)
				return true
			}
			closeResponse(ctx, r)
		}
	}
}

// The same with the error path's Close forgotten: the next tick acquires
// over it, or shutdown returns with it open (the search meets the return first).
func isAppReadyLeaky(ctx context.Context, shutdown <-chan bool, check func() (int, error)) bool {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-shutdown:
			return false
		case <-ticker.C:
			code, err := check()
			r := otelguard.Acquire(ctx, "health.response", code, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 75 is reached`
			if err != nil {
				continue
			}
			closeResponse(ctx, r)
		}
	}
}
