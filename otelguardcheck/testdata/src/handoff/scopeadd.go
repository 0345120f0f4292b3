// Hand-off: Scope.Add gives the scope the charge of closing the handle.
//
// sqlclosecheck #14 and #9 (https://github.com/ryanrolds/sqlclosecheck/issues/14,
// https://github.com/ryanrolds/sqlclosecheck/issues/9): statements prepared
// in a transaction are closed by its Commit or Rollback, another owner.
package handoff

import (
	"context"
	"os"

	"github.com/otelguard/otelguard-go/otelguard"
)

func addedToScope(ctx context.Context, f *os.File) error {
	s := otelguard.NewScope(ctx, "request")
	defer s.Close(ctx)
	r := otelguard.Track(ctx, "file", f)
	s.Add(r)
	s.Add(otelguard.Acquire(ctx, "conn", 1, release))
	return nil
}

// The scope itself must still be closed.
func addedToUnclosedScope(ctx context.Context) {
	s := otelguard.NewScope(ctx, "request") // want `s \(\*otelguard.Scope from NewScope\) is not closed on every path`
	s.Add(otelguard.Acquire(ctx, "conn", 1, release))
}

// A scope added to a scope is handed off as well.
func nestedScope(ctx context.Context, parent *otelguard.Scope) {
	child := otelguard.NewScope(ctx, "child")
	parent.Add(child)
}
