// Hand-off: a handle passed to a function that may keep it. A function of
// another package, a method of an interface or a function value may keep
// it; a function of this package is read, and one that provably does not
// keep its parameter leaves the handle with the caller.
//
// bodyclose #30 and #51 (https://github.com/timakin/bodyclose/issues/30,
// https://github.com/timakin/bodyclose/issues/51), and sqlclosecheck #43
// (https://github.com/ryanrolds/sqlclosecheck/issues/43) reported a Close
// inside a helper as missing. bodyclose PR #80
// (https://github.com/timakin/bodyclose/pull/80) asks the converse too: a
// helper that does not close still leaves the leak reported.
package handoff

import (
	"context"
	"fmt"
	"io"

	"github.com/otelguard/otelguard-go/otelguard"
)

type keeper interface {
	Keep(*otelguard.Resource[int])
}

// closeQuietly ends its parameter.
func closeQuietly(ctx context.Context, r *otelguard.Resource[int]) {
	if err := r.Close(ctx); err != nil {
		fmt.Println(err)
	}
}

// closeLater hands its parameter on, to a deferred closure of its own.
func closeLater(ctx context.Context, r *otelguard.Resource[int]) {
	defer func() { _ = r.Close(ctx) }()
}

// logName only reads its parameter: it does not keep it.
func logName(w io.Writer, r *otelguard.Resource[int]) {
	fmt.Fprintln(w, r.Name(), r.Value())
}

// viaLogName passes it on to a reader only: it does not keep it either.
func viaLogName(w io.Writer, r *otelguard.Resource[int]) {
	logName(w, r)
}

// recursive calls itself: assumed to keep it.
func recursive(r *otelguard.Resource[int], n int) {
	if n > 0 {
		recursive(r, n-1)
	}
}

func passedToHelperThatCloses(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	closeQuietly(ctx, r)
}

func passedToDeferredHelper(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	defer closeLater(ctx, r)
}

func passedToReader(ctx context.Context, w io.Writer) {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	logName(w, r)
}

func passedToReaderTwice(ctx context.Context, w io.Writer) {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	viaLogName(w, r)
}

func passedToRecursive(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	recursive(r, 3)
}

func passedToOtherPackage(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	fmt.Println(r)
}

func passedToInterface(ctx context.Context, k keeper) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	k.Keep(r)
}

func passedToFuncValue(ctx context.Context, keep func(*otelguard.Resource[int])) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	keep(r)
}

// A variadic parameter puts it in a slice the callee may keep.
func passedVariadic(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	keepAll(r)
}

func keepAll(rs ...*otelguard.Resource[int]) { _ = rs }

// A method of this package is read like a function.
type registry struct{ open []*otelguard.Resource[int] }

func (g *registry) add(r *otelguard.Resource[int]) { g.open = append(g.open, r) }

func (g *registry) peek(r *otelguard.Resource[int]) int { return r.Value() }

func passedToMethodThatKeeps(ctx context.Context, g *registry) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	g.add(r)
}

func passedToMethodThatReads(ctx context.Context, g *registry) int {
	r := otelguard.Acquire(ctx, "conn", 1, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path`
	return g.peek(r)
}
