package guardhttp

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// setEndAttributes sets kv on the span of the lifetime whose release was
// given ctx, when it ends. The core is adding otelguard.SetEndAttributes
// for this (DESIGN.md, v2); until it is on this branch, the release writes
// on the lifetime's span, which ctx carries and the core ends only after
// the release returns. The switch is a one-line change here.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	trace.SpanFromContext(ctx).SetAttributes(kv...)
}
