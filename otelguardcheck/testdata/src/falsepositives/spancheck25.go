// go-spancheck #25, "False positive; return outside scope of Span"
// (https://github.com/jjti/go-spancheck/issues/25): the lifetime lives and
// ends inside an if block; the return after it has nothing open.
package falsepositives

import (
	"context"
	"errors"

	"github.com/otelguard/otelguard-go/otelguard"
)

func endedInsideIf(ctx context.Context, cond bool) error {
	if cond {
		span := otelguard.NewGuard(ctx, "bar", cleanup)
		span.Disarm()
	}
	return errors.New("asdf")
}
