// Rule: defer g.Disarm() disarms the guard on every path, so it can never run.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func deferDisarm(ctx context.Context) error {
	g := otelguard.NewGuard(ctx, "tx.rollback", rollback)
	defer g.Disarm() // want `defer g.Disarm\(\) disarms the guard on every path, so its cleanup can never run`
	return work()
}

// Disarm after the work, as meant.
func disarmAfterWork(ctx context.Context) error {
	g := otelguard.NewGuard(ctx, "tx.rollback", rollback)
	defer g.Run()
	if err := work(); err != nil {
		return err
	}
	g.Disarm()
	return nil
}

// A deferred Disarm of a Scope is not this rule's business.
func deferScopeDisarm(ctx context.Context) {
	s := otelguard.NewScope(ctx, "s")
	defer s.Disarm()
}
