// bodyclose #47, "False positive when using httptest.NewRecorder()"
// (https://github.com/timakin/bodyclose/issues/47): the body is closed in
// a deferred closure.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closedInDeferredClosure(ctx context.Context) int {
	resp := otelguard.Acquire(ctx, "http.response", 200, release)
	defer func() {
		_ = resp.Close(ctx)
	}()
	return resp.Value()
}
