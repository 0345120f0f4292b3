// Hand-off: a handle stored in a field, map, slice, global, composite
// literal or a variable of an enclosing function is ended by whoever reads
// it back.
//
// bodyclose #42 (https://github.com/timakin/bodyclose/issues/42) reported
// a response kept in a struct field; go-spancheck's users silence spans
// wrapped in a struct whose Close ends them
// (https://github.com/hyperledger-labs/fabric-smart-client/pull/1778).
package handoff

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

type conn struct {
	r *otelguard.Resource[int]
}

func (c *conn) Close(ctx context.Context) error { return c.r.Close(ctx) }

var global *otelguard.Resource[int]

func storedField(ctx context.Context, c *conn) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	c.r = r
}

func storedFieldDirectly(ctx context.Context, c *conn) {
	c.r = otelguard.Acquire(ctx, "conn", 1, release)
}

func storedMap(ctx context.Context, m map[string]*otelguard.Resource[int]) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	m["conn"] = r
}

func storedSlice(ctx context.Context, all []*otelguard.Resource[int]) []*otelguard.Resource[int] {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	return append(all, r)
}

func storedGlobal(ctx context.Context) {
	global = otelguard.Acquire(ctx, "conn", 1, release)
}

func storedGlobalLater(ctx context.Context) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	global = r
}

// Wrapped in a value whose own Close ends it.
func storedComposite(ctx context.Context) *conn {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	return &conn{r: r}
}

// Assigned to a variable of the enclosing function, from a closure.
func storedOuterVariable(ctx context.Context) error {
	var r *otelguard.Resource[int]
	open := func() {
		r = otelguard.Acquire(ctx, "conn", 1, release)
	}
	open()
	return r.Close(ctx)
}

// Copied into another variable: the copy is what the function keeps.
func storedAlias(ctx context.Context) *otelguard.Resource[int] {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	kept := r
	return kept
}

// Its address taken: whoever holds the pointer may end it.
func storedAddress(ctx context.Context, sink func(**otelguard.Resource[int])) {
	r := otelguard.Acquire(ctx, "conn", 1, release)
	sink(&r)
}
