// go-spancheck #33, "False positive: spancheck flags wrapped tracer.Start
// as unassigned span" (https://github.com/jjti/go-spancheck/issues/33): a
// helper returns what it starts; its caller ends it. Neither is reported:
// the helper hands it off, and the caller's handle comes from a function
// that is not otelguard's acquire, which the analyzer does not follow.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func startSpan(ctx context.Context, name string) *otelguard.Guard {
	return otelguard.NewGuard(ctx, name, cleanup)
}

func useStartSpan(ctx context.Context) {
	span := startSpan(ctx, "work")
	defer span.Run()
}
