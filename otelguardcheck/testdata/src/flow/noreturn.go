// A path that ends in panic, os.Exit, log.Fatal or t.Fatal does not return:
// it is not a leak path (as in lostcancel). A deferred Run still runs while
// a panic unwinds; the exit ends the rest.
package flow

import (
	"context"
	"log"
	"os"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
)

func panics(ctx context.Context, v int) {
	r := otelguard.Acquire(ctx, "conn", v, release)
	if v < 0 {
		panic("negative")
	}
	_ = r.Close(ctx)
}

func exits(ctx context.Context, v int) {
	r := otelguard.Acquire(ctx, "conn", v, release)
	if v < 0 {
		os.Exit(2)
	}
	_ = r.Close(ctx)
}

func fatal(ctx context.Context, v int) {
	r := otelguard.Acquire(ctx, "conn", v, release)
	if work(v) != nil {
		log.Fatalf("work %d", v)
	}
	_ = r.Close(ctx)
}

func testFatal(t *testing.T, ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	if err := work(r.Value()); err != nil {
		t.Fatal(err)
	}
	_ = r.Close(ctx)
}

// A helper of this package that always exits is known not to return too.
func die(msg string) {
	log.Print(msg)
	os.Exit(1)
}

func exitsThroughHelper(ctx context.Context, v int) {
	g := otelguard.NewGuard(ctx, "lock", cleanup)
	if v < 0 {
		die("negative")
	}
	g.Disarm()
}

// But a path that returns is still checked next to one that panics.
func panicsOrReturns(ctx context.Context, v int) error {
	r := otelguard.Acquire(ctx, "conn", v, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 68 is reached`
	switch {
	case v < 0:
		panic("negative")
	case v == 0:
		return nil
	}
	return r.Close(ctx)
}
