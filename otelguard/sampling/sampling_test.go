package sampling_test

import (
	"context"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/sampling"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// At a head sampling that keeps nothing, every finding is still sampled,
// and every other span is not.
func TestKeepFindingsKeepsEveryFindingAndNothingElse(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampling.KeepFindings(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)))),
		sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	ctx := context.Background()
	for range 100 {
		_ = otelguard.Acquire(ctx, "clean", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr)).Close(ctx)
	}
	otelguard.NewGuard(ctx, "held", func(context.Context) error { return nil }, otelguard.WithTracker(tr)) //otelguard:handoff reported at shutdown
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var findings, others int
	for _, s := range rec.Ended() {
		if s.Name() == "otelguard.finding" {
			findings++
			if !s.SpanContext().IsSampled() || s.Parent().IsValid() || len(s.Links()) != 1 {
				t.Errorf("finding: sampled %v, parent %v, links %d", s.SpanContext().IsSampled(), s.Parent(), len(s.Links()))
			}
			continue
		}
		others++
	}
	if findings != 1 || others != 0 {
		t.Fatalf("%d findings and %d other spans recorded; want 1 and 0", findings, others)
	}
}

// Every other decision is the base sampler's, the description says both.
func TestKeepFindingsDefersToBase(t *testing.T) {
	s := sampling.KeepFindings(sdktrace.AlwaysSample())
	res := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), Name: "x",
		Attributes: []attribute.KeyValue{attribute.String("k", "v")}})
	if res.Decision != sdktrace.RecordAndSample {
		t.Fatalf("decision %v", res.Decision)
	}
	if d := sampling.KeepFindings(sdktrace.NeverSample()).Description(); d != "KeepFindings{AlwaysOffSampler}" {
		t.Fatalf("Description = %q", d)
	}
	if d := sampling.KeepFindings(nil).Description(); d == "" {
		t.Fatal("nil base")
	}
}
