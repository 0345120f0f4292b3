package guardhttp

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// setEndAttributes sets kv on the span of the lifetime whose release was
// given ctx, when it ends (otelguard.SetEndAttributes; called before the
// release returns).
//
// The core drops what SetEndAttributes was given when the lifetime ends
// leaked_without_close (its ReleaseOnLeak release, trigger gc): the leak's
// end does not read them. Until it does, such a release also writes kv on
// the lifetime's span, which ctx carries and which the core ends only
// after the release returns. TestDroppedBodyIsLeakedAndItsConnectionFreed
// and the matrix's "read to EOF, not closed" cells catch the loss.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	otelguard.SetEndAttributes(ctx, kv...)
	if trig, _ := otelguard.ReleaseTrigger(ctx); trig == otelguard.TriggerGC {
		trace.SpanFromContext(ctx).SetAttributes(kv...)
	}
}
