// go-spancheck #24, "False positive in defer including check for named
// error return" (https://github.com/jjti/go-spancheck/issues/24), and the
// follow-up PR #31 (https://github.com/jjti/go-spancheck/pull/31): the end
// comes after an if in the deferred closure; and, in the PR's false
// negative, only inside the if. The analyzer trusts a condition in a
// deferred closure (it cannot tell an error check from a mistake), so the
// PR's shape is not reported either: a known false negative.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func subTask(context.Context) error { return nil }

func endAfterIf(ctx context.Context) (retErr error) {
	span := otelguard.NewScope(ctx, "bar")
	defer func() {
		if retErr != nil {
			println(retErr.Error())
		}
		_ = span.Close(ctx)
	}()
	if err := subTask(ctx); err != nil {
		return err
	}
	return nil
}

func endOnlyInIf(ctx context.Context) (err error) {
	span := otelguard.NewScope(ctx, "bar")
	defer func() {
		if err != nil {
			_ = span.Close(ctx)
		}
	}()
	return subTask(ctx)
}
