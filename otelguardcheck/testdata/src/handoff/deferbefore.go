// A deferred end written before the acquire: the variable is declared
// first so that one defer covers whatever it will hold.
//
// bodyclose #61 (https://github.com/timakin/bodyclose/issues/61) reported
// this shape.
package handoff

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func deferBeforeAcquire(ctx context.Context, again bool) {
	var r *otelguard.Resource[int]
	defer func() {
		if r != nil {
			_ = r.Close(ctx)
		}
	}()
	if again {
		r = otelguard.Acquire(ctx, "conn", 1, release)
	} else {
		r = otelguard.Acquire(ctx, "conn", 2, release)
	}
}
