// Rule: a handle dropped where it is acquired can never be ended.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func discardedStatement(ctx context.Context) {
	otelguard.Acquire(ctx, "buffer", 0, release) // want `the \*otelguard.Resource from Acquire is discarded: nothing can Close, CloseAsync or Detach it`
}

func discardedBlank(ctx context.Context) {
	_ = otelguard.NewGuard(ctx, "lock", rollback) // want `the \*otelguard.Guard from NewGuard is discarded: nothing can Run or Disarm it`
}

func discardedAfterValue(ctx context.Context) int {
	return otelguard.Acquire(ctx, "conn", 7, release).Value() // want `the \*otelguard.Resource from Acquire is discarded`
}

func discardedScope(ctx context.Context) {
	otelguard.NewScope(ctx, "s").Defer("m", rollback) // want `the \*otelguard.Scope from NewScope is discarded: nothing can Close or Disarm it`
}

// Ended where it stands: not discarded.
func endedInPlace(ctx context.Context) error {
	_ = otelguard.NewGuard(ctx, "lock", rollback).Disarm()
	return otelguard.Acquire(ctx, "conn", 7, release).Close(ctx)
}
