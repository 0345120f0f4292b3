// bodyclose #77, "False positive with closure outside of `if` body"
// (https://github.com/timakin/bodyclose/issues/77): the body is put in a
// variable declared outside the if, which is closed after it.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func closedOutsideIf(ctx context.Context) {
	var rc *otelguard.Resource[int]
	if true {
		resp := otelguard.Acquire(ctx, "http.response", 200, release)
		rc = resp
	}
	defer rc.Close(ctx)
}
