// go-spancheck #12, "Linter ignores span.End if called inside deferred
// function" (https://github.com/jjti/go-spancheck/issues/12).
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func endedInDeferredFunc(ctx context.Context) {
	span := otelguard.NewGuard(ctx, "bar", cleanup)
	defer func() {
		if p := recover(); p != nil {
			println("recovered")
		}
		_ = span.Run()
	}()
}
