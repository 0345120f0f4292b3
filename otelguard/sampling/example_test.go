package sampling_test

import (
	"context"
	"fmt"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/sampling"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// At 1% head sampling, the lifetime left open is invisible in its own
// trace, but its finding is kept.
func ExampleKeepFindings() {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampling.KeepFindings(
			sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))),
	)
	rec := tracetest.NewSpanRecorder()
	tp.RegisterSpanProcessor(rec)
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))

	ctx := context.Background()
	otelguard.NewGuard(ctx, "orders.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker)) //otelguard:handoff left open: the example shows open_at_shutdown
	_ = tracker.Shutdown(ctx)

	for _, s := range rec.Ended() {
		if s.Name() != "otelguard.finding" {
			continue
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "otelguard.finding" || kv.Key == "otelguard.name" {
				fmt.Println(kv.Key, "=", kv.Value.AsString())
			}
		}
	}
	// Output:
	// otelguard.finding = open_at_shutdown
	// otelguard.name = orders.lock
}

// docProvider is the set-up docs/SCALING.md shows, compiled here line for
// line.
func docProvider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampling.KeepFindings(
			sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))),
		sdktrace.WithBatcher(exp),
	)
	return tp
}

var _ = docProvider
