// switch and type switch: every case, default and fallthrough.
package flow

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func switchEveryCase(ctx context.Context, mode int) error {
	r := otelguard.Acquire(ctx, "conn", mode, release)
	switch mode {
	case 0:
		return r.Close(ctx)
	case 1, 2:
		<-r.CloseAsync(ctx)
	default:
		_ = r.Detach()
	}
	return nil
}

func switchMissingDefault(ctx context.Context, mode int) {
	r := otelguard.Acquire(ctx, "conn", mode, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the end of the function \(line 31\) is reached`
	switch mode {
	case 0:
		_ = r.Close(ctx)
	case 1:
		_ = r.Detach()
	}
}

func switchFallthrough(ctx context.Context, mode int) {
	g := otelguard.NewGuard(ctx, "lock", cleanup)
	switch mode {
	case 0:
		println("zero")
		fallthrough
	case 1:
		_ = g.Run()
	default:
		g.Disarm()
	}
}

func switchCaseReturns(ctx context.Context, mode int) error {
	g := otelguard.NewGuard(ctx, "lock", cleanup) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the return on line 50 is reached`
	switch {
	case mode < 0:
		return nil
	case mode == 0:
		return g.Run()
	}
	g.Disarm()
	return nil
}

func typeSwitch(ctx context.Context, v any) {
	s := otelguard.NewScope(ctx, "s")
	switch v.(type) {
	case int:
		_ = s.Close(ctx)
	case string:
		s.Disarm()
	default:
		_ = s.Close(ctx)
	}
}
