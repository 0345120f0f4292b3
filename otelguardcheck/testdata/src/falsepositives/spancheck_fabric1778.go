// go-spancheck in hyperledger-labs/fabric-smart-client PR #1778
// (https://github.com/hyperledger-labs/fabric-smart-client/pull/1778):
// seven reports, all spans handed off and silenced with //nolint, among
// them a span wrapped in a connection whose Close ends it, and a span
// returned to the caller. Both are hand-offs here.
package falsepositives

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

type subConnWithSpan struct {
	conn int
	span *otelguard.Guard
}

func (c *subConnWithSpan) Close() error { return c.span.Run() }

func newSubConn(ctx context.Context, conn int) *subConnWithSpan {
	span := otelguard.NewGuard(ctx, "subconn", cleanup)
	return &subConnWithSpan{conn: conn, span: span}
}

func startSpanFrom(ctx context.Context) (context.Context, *otelguard.Guard) {
	span := otelguard.NewGuard(ctx, "view", cleanup)
	return ctx, span
}
