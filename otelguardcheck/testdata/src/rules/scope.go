// Rule: a *otelguard.Scope must be closed on every path. Disarm counts as
// its end: it ends the scope's own lifetime, as Guard.Disarm does.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func scopeDeferredClose(ctx context.Context) {
	s := otelguard.NewScope(ctx, "request")
	defer s.Close(ctx)
	s.Defer("tmpfile", rollback)
}

func scopeDisarmOnSuccess(ctx context.Context) error {
	s := otelguard.NewScope(ctx, "init")
	s.Defer("undo", rollback)
	if err := work(); err != nil {
		return s.Close(ctx)
	}
	s.Disarm() // keep what was set up
	return nil
}

func scopeNotClosedOnError(ctx context.Context) error {
	s := otelguard.NewScope(ctx, "init") // want `s \(\*otelguard.Scope from NewScope\) is not closed on every path: the return on line 30 is reached without Close or Disarm`
	if err := work(); err != nil {
		return err
	}
	return s.Close(ctx)
}
