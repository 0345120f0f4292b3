// Hand-off: a closure that runs later, or a go statement, that captures the
// handle takes it; a closure called in place, deferred or not, is part of
// the function and must end it itself.
//
// go-spancheck #12 (https://github.com/jjti/go-spancheck/issues/12),
// bodyclose #47 (https://github.com/timakin/bodyclose/issues/47) and
// sqlclosecheck #49 (https://github.com/ryanrolds/sqlclosecheck/issues/49)
// reported an End or Close inside a deferred closure as missing.
package handoff

import (
	"context"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
)

func goStatement(ctx context.Context, wg *sync.WaitGroup) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer r.Close(ctx)
	}()
}

func goStatementMethod(ctx context.Context) {
	g := otelguard.NewGuard(ctx, "lock", cleanup)
	go g.Run()
}

func testCleanup(t *testing.T, ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r.Value()
}

func storedClosure(ctx context.Context) func() {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	return func() { _ = r.Close(ctx) }
}

func deferredClosure(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	defer func() {
		if err := r.Close(ctx); err != nil {
			println(err.Error())
		}
	}()
}

func calledClosure(ctx context.Context) {
	g := otelguard.NewGuard(ctx, "lock", cleanup)
	func() { g.Disarm() }()
}

// Called in place but only reading the handle: still open.
func calledClosureReadsOnly(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	v := 0
	defer func() { println(r.Name()) }()
	func() { v = r.Value() }()
	return v
}

// A closure that does not mention the handle takes nothing.
func unrelatedGoroutine(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	v := r.Value()
	go func() { println(v) }()
}
