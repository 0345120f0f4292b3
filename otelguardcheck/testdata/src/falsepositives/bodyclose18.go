// bodyclose #18, "False negatives with io.Closer"
// (https://github.com/timakin/bodyclose/issues/18), a false positive in
// fact: the body is closed by a closure held in a variable, called with it.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closedByClosureVariable(ctx context.Context) {
	res := otelguard.Acquire(ctx, "http.response", 200, release)
	resCloser := func(c interface{ Close(context.Context) error }) {
		_ = c.Close(ctx)
	}
	resCloser(res)
}
