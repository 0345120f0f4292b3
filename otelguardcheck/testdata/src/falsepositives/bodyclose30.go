// bodyclose #30, "False positive with body close inside separate function"
// (https://github.com/timakin/bodyclose/issues/30): in a ticker loop, each
// select case closes the body through a helper of the same package. The
// whole shape is in ../flow/select.go (isAppReady); here the helper alone,
// called on each path of an if/else.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closeResponse(ctx context.Context, r *otelguard.Resource[int]) {
	if err := r.Close(ctx); err != nil {
		println(err.Error())
	}
}

func checkOnce(ctx context.Context) bool {
	code, err := query("health")
	response := otelguard.Acquire(ctx, "http.response", code, release)
	if err != nil {
		closeResponse(ctx, response)
		return false
	}
	ok := response.Value() == 200
	closeResponse(ctx, response)
	return ok
}
