// bodyclose #61, "False positive when body is declared before if blocks"
// (https://github.com/timakin/bodyclose/issues/61): assigned in one branch,
// closed by one defer after the if.
package falsepositives

import (
	"context"
	"errors"

	"github.com/otelguard/otelguard-go/otelguard"
)

func declaredBeforeIf(ctx context.Context, a bool, other *otelguard.Resource[int]) error {
	var resp *otelguard.Resource[int]
	if a {
		code, err := query("GET /")
		resp = otelguard.Acquire(ctx, "http.response", code, release)
		if err != nil {
			return errors.Join(err, resp.Close(ctx))
		}
	} else {
		resp = other
	}
	defer resp.Close(ctx)
	return nil
}
