// bodyclose #4, "False Positives on Methods/Functions That Return
// *http.Response" (https://github.com/timakin/bodyclose/issues/4): a
// function that returns the response for its caller to close.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func get(ctx context.Context) *otelguard.Resource[int] {
	resp := otelguard.Acquire(ctx, "http.response", 200, release)
	return resp
}

func useGet(ctx context.Context) {
	resp := get(ctx)
	_ = resp.Close(ctx)
}
