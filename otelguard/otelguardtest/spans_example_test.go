package otelguardtest_test

import (
	"context"
	"testing"

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

// TestCheckSpansAsDocumented is CheckSpans as its documentation shows it;
// serve stands for the code under test.
func TestCheckSpansAsDocumented(t *testing.T) {
	serve := func(tracer trace.Tracer) { lookup(context.Background(), tracer, "user:1") }
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(otelguardtest.CheckSpans(t)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	serve(tp.Tracer("app")) // the test fails, naming where, if serve forgets an End
}
