// Rule: a *otelguard.Resource must be closed, close-asynced or detached on
// every path to a return.
package rules

import (
	"context"
	"os"

	"github.com/otelguard/otelguard-go/otelguard"
)

func release(context.Context, int) error { return nil }

func resourceDeferredClose(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	defer r.Close(ctx)
	return r.Value()
}

func resourceCloseAsync(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	<-r.CloseAsync(ctx)
}

func resourceDetach(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	return r.Detach()
}

func resourceTrack(ctx context.Context, f *os.File) error {
	r := otelguard.Track(ctx, "file", f)
	return r.Close(ctx)
}

// Only Value and Name: nothing ends the lifetime.
func resourceOnlyRead(ctx context.Context) int {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 40 is reached without Close, CloseAsync or Detach`
	_ = r.Name()
	println(r.Name())
	return r.Value()
}

// Closed on one branch only.
func resourceOneBranch(ctx context.Context, ok bool) {
	r := otelguard.Track(ctx, "file", os.Stdin) // want `r \(\*otelguard.Resource from Track\) is not closed on every path: the end of the function \(line 49\) is reached`
	if ok {
		_ = r.Close(ctx)
	}
}

// var r = …, and a nil check, which is not an end.
func resourceVarSpec(ctx context.Context) bool {
	var r = otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 54`
	return r != nil
}

// Assigned again while open: the first lifetime can no longer be closed.
func resourceOverwritten(ctx context.Context) {
	r := otelguard.Acquire(ctx, "first", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: it is overwritten on line 60 while still open`
	r = otelguard.Acquire(ctx, "second", 2, release)
	defer r.Close(ctx)
}

// A closed handle may be assigned again.
func resourceReassignedAfterClose(ctx context.Context) {
	r := otelguard.Acquire(ctx, "first", 1, release)
	_ = r.Close(ctx)
	r = otelguard.Acquire(ctx, "second", 2, release)
	_ = r.Close(ctx)
}
