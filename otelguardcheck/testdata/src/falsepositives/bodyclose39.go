// bodyclose #39, "false positive when close is in another package"
// (https://github.com/timakin/bodyclose/issues/39): defer util.Close(res.Body).
// A function of another package may keep or close what it is given: a
// hand-off.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
	"util"
)

func closedInAnotherPackage(ctx context.Context) {
	res := otelguard.Acquire(ctx, "http.response", 200, release)
	defer util.Close(ctx, res)
}
