// Rule: a *otelguard.Guard must be run or disarmed on every path to a return.
package rules

import (
	"context"
	"errors"

	"github.com/otelguard/otelguard-go/otelguard"
)

var errWork = errors.New("work failed")

func work() error { return nil }

func rollback(context.Context) error { return nil }

// The README's shape: deferred Run, Disarm once the work succeeded.
func guardDeferredRun(ctx context.Context) error {
	g := otelguard.NewGuard(ctx, "tx.rollback", rollback)
	defer g.Run()
	if err := work(); err != nil {
		return err
	}
	g.Disarm()
	return nil
}

// Run or Disarm on each path, no defer.
func guardEachPath(ctx context.Context) error {
	g := otelguard.NewGuard(ctx, "tx.rollback", rollback)
	if err := work(); err != nil {
		_ = g.Run()
		return err
	}
	g.Disarm()
	return nil
}

// The error path forgets the guard.
func guardForgottenOnError(ctx context.Context) error {
	g := otelguard.NewGuard(ctx, "tx.rollback", rollback) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the return on line 43 is reached without Run or Disarm`
	if err := work(); err != nil {
		return err
	}
	g.Disarm()
	return nil
}

// Never ended at all: the end of the function is the leak.
func guardNeverEnded(ctx context.Context) {
	g := otelguard.NewGuard(ctx, "lock", rollback) // want `g \(\*otelguard.Guard from NewGuard\) is not run or disarmed on every path: the end of the function \(line 53\) is reached without Run or Disarm`
	_ = g
}

// Ended where it is acquired.
func guardRunAtOnce(ctx context.Context) {
	defer otelguard.NewGuard(ctx, "lock", rollback).Run()
}

// A result of Disarm used in a condition still disarms it.
func guardDisarmInCondition(ctx context.Context) error {
	g := otelguard.NewGuard(ctx, "lock", rollback)
	if !g.Disarm() {
		return errWork
	}
	return nil
}
