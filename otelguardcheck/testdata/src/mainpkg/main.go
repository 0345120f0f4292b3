// Returning from main.main ends the process: as lostcancel, the analyzer
// does not ask main to end what the exit ends. Other functions of package
// main are checked as any, and a discarded handle is reported everywhere.
package main

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func release(context.Context, int) error { return nil }

func main() {
	ctx := context.Background()
	r := otelguard.Acquire(ctx, "config", 1, release)
	println(r.Value())
	otelguard.Acquire(ctx, "config", 2, release) // want `discarded`
	helper(ctx)
}

func helper(ctx context.Context) {
	r := otelguard.Acquire(ctx, "config", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	println(r.Value())
}
