package spanleak_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// charge forgets span.End() on its error path.
func charge(ctx context.Context, tracer trace.Tracer, amount int) error {
	_, span := tracer.Start(ctx, "charge")
	if amount <= 0 {
		return errors.New("nothing to charge") // span.End() forgotten
	}
	span.End()
	return nil
}

func ExampleNewProcessor() {
	// Findings go through a Tracker; here its spans are kept in memory.
	findings := memory.New()
	findingsTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(findings))
	tracker := otelguard.New(otelguard.WithTracerProvider(findingsTP))

	// The program's provider: spanleak beside the exporting processor.
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(spanleak.NewProcessor(spanleak.WithTracker(tracker))),
		sdktrace.WithBatcher(exporter),
	)
	tracer := tp.Tracer("example.com/shop")
	_ = charge(context.Background(), tracer, 10)
	_ = charge(context.Background(), tracer, 0)

	// The dropped span is found at a garbage collection.
	for i := 0; i < 100 && len(findings.Spans()) == 0; i++ {
		runtime.GC()
		_ = tp.ForceFlush(context.Background())
	}
	for _, s := range findings.Spans() {
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		first, _, _ := strings.Cut(attrs["code.stacktrace"], "(")
		fmt.Println(s.Name, attrs["otelguard.finding"], attrs["otelguard.name"])
		fmt.Println("started by", first)
	}
	_ = tp.Shutdown(context.Background())
	_ = tracker.Shutdown(context.Background())
	// Output:
	// otelguard.finding span_not_ended charge
	// started by github.com/otelguard/otelguard-go/otelguard/spanleak_test.charge
}
