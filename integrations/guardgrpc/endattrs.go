package guardgrpc

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// setEndAttributes sets kv on the span of the lifetime whose release runs
// with ctx, when it ends (otelguard.SetEndAttributes): the one place the
// package says so, kept as a function of its own so that a change of the
// core's contract is a one-line change here.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	otelguard.SetEndAttributes(ctx, kv...)
}
