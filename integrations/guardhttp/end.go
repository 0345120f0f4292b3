package guardhttp

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// setEndAttributes sets kv on the span of the lifetime whose release was
// given ctx, when it ends (otelguard.SetEndAttributes; called before the
// release returns), whatever ends it — a leak's ReleaseOnLeak release
// (trigger gc) included. TestDroppedBodyIsLeakedAndItsConnectionFreed and
// the matrix's "read to EOF, not closed" cells check the leak's.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	otelguard.SetEndAttributes(ctx, kv...)
}
