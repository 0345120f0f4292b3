// The snippets of the analyzer's documentation, analyzed as they say: the
// directive silences the report of a hand-off the analyzer cannot see, and
// a deferred end written before the acquire ends it. Neither is reported.
package handoff

import (
	"context"
	"os"

	"github.com/otelguard/otelguard-go/otelguard"
)

type pool struct {
	conns []*otelguard.Resource[*os.File]
}

// put keeps the connection: closing it is the pool's business. The
// analyzer reads put (same package), sees the handle stored, and counts a
// hand-off; in another package it would not see that far.
func (p *pool) put(c *otelguard.Resource[*os.File]) { p.conns = append(p.conns, c) }

func directiveSnippet(ctx context.Context, conn *os.File, p *pool) {
	//otelguard:handoff the pool's Put closes it
	c := otelguard.Track(ctx, "conn", conn)
	p.put(c)
}

func deferBeforeSnippet(ctx context.Context, f *os.File) {
	var r *otelguard.Resource[*os.File]
	defer func() {
		if r != nil {
			_ = r.Close(ctx)
		}
	}()
	r = otelguard.Track(ctx, "f", f)
}
