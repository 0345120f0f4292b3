// bodyclose #51, "Close in another function's defer function is not
// handled correctly" (https://github.com/timakin/bodyclose/issues/51):
// helpers of the same package that close in a defer, and in a deferred
// closure.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closeByCall(ctx context.Context, res *otelguard.Resource[int]) {
	defer res.Close(ctx)
}

func closeByCallDefer(ctx context.Context, res *otelguard.Resource[int]) {
	defer func() {
		_ = res.Close(ctx)
	}()
}

func responseCall(ctx context.Context) {
	res := otelguard.Acquire(ctx, "http.response", 200, release)
	closeByCall(ctx, res)
}

func responseCallDefer(ctx context.Context) {
	res := otelguard.Acquire(ctx, "http.response", 200, release)
	closeByCallDefer(ctx, res)
}
