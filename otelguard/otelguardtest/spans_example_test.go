package otelguardtest_test

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// lookup forgets span.End() when the key is missing.
//
//go:noinline
func lookup(ctx context.Context, tracer trace.Tracer, key string) bool {
	_, span := tracer.Start(ctx, "cache.lookup")
	if key == "" {
		return false // span.End() forgotten
	}
	span.End()
	return true
}

func ExampleCheckSpans() {
	t := &exampleT{} // in a test: the test's t
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(otelguardtest.CheckSpans(t)))
	tracer := tp.Tracer("example.com/cache")

	lookup(context.Background(), tracer, "user:1")
	lookup(context.Background(), tracer, "")
	t.end() // the test returns: its spans are checked
	_ = tp.Shutdown(context.Background())
	// Output:
	// FAIL: otelguard: found 1 span never ended:
	//
	// span "cache.lookup": span_not_ended (dropped without End), started at:
	// github.com/otelguard/otelguard-go/otelguard/otelguardtest_test.lookup(...)
}
