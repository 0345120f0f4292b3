package guardgrpc

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// setEndAttributes sets kv on the span of the lifetime whose release runs
// with ctx, when it ends. The core gives a release a context carrying the
// lifetime's span and ends that span after the release returns, as
// guardhttp's releaseBody relies on; otelguard.SetEndAttributes, being
// added to the core, says so as a contract, and replaces this body once
// it is there.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	trace.SpanFromContext(ctx).SetAttributes(kv...)
}
