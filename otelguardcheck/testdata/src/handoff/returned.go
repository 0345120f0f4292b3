// Hand-off: a handle returned to the caller is the caller's to end.
//
// bodyclose #4 (https://github.com/timakin/bodyclose/issues/4) and
// rowserrcheck #32 (https://github.com/jingyugao/rowserrcheck/issues/32)
// reported exactly this shape as a leak.
package handoff

import (
	"context"
	"errors"

	"github.com/otelguard/otelguard-go/otelguard"
)

func release(context.Context, int) error { return nil }

func cleanup(context.Context) error { return nil }

func setup(int) error { return nil }

func returned(ctx context.Context) *otelguard.Resource[int] {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	_ = r.Name()
	return r
}

func returnedDirectly(ctx context.Context) *otelguard.Guard {
	return otelguard.NewGuard(ctx, "lock", cleanup)
}

// A named result handed back by a bare return.
func returnedNamed(ctx context.Context) (r *otelguard.Resource[int], err error) {
	r = otelguard.Acquire(ctx, "conn", 1, release)
	if err = setup(r.Value()); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	return
}

// The error path drops it: that one is a leak.
func returnedOnlyOnSuccess(ctx context.Context) (*otelguard.Resource[int], error) {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 45 is reached`
	if err := setup(r.Value()); err != nil {
		return nil, errors.Join(err, errors.New("setup"))
	}
	return r, nil
}

// The usual defer that closes only on error, with the success path
// returning the handle.
func returnedDeferOnError(ctx context.Context) (_ *otelguard.Resource[int], err error) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	defer func() {
		if err != nil {
			_ = r.Close(ctx)
		}
	}()
	if err := setup(r.Value()); err != nil {
		return nil, err
	}
	return r, nil
}
