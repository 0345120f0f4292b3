// Package benchpair holds what every integration module's pair
// benchmarks share (issue 29): each measures an integration on top of the
// OpenTelemetry instrumentation users already run, against that
// instrumentation alone, with the same SDK set-up on both sides. Their
// shape (make bench-pairs runs them all, internal/cmd/benchratio pairs
// them):
//
//		BenchmarkPair<Name>/metrics=<on|off>/impl=<baseline|guarded>
//
//	  - the SDK as users get it: a TracerProvider sampling every root span,
//	    with a batch span processor to an exporter that discards; metrics=on
//	    an SDK MeterProvider with a ManualReader (never collected), given to
//	    the alternative and to the Tracker alike; metrics=off a noop
//	    MeterProvider on both sides;
//	  - leak detection at its default (stacks), no other Tracker option;
//	  - each side builds its own providers, Tracker, server and client in
//	    its sub-benchmark, so that nothing of one side is measured in the
//	    other;
//	  - the order of the two sides follows $BENCH_PAIR_ORDER:
//	    "guarded-first" runs impl=guarded before impl=baseline, anything
//	    else the baseline first. make bench-pairs flips it run by run, so
//	    that neither side always runs first in its process;
//	  - the target is guarded ≤ 1.10× baseline (ns/op, paired run by run by
//	    internal/cmd/benchratio).
package benchpair

import (
	"context"
	"os"
	"testing"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Order is the order of a pair's two sides, from $BENCH_PAIR_ORDER.
func Order() []string {
	if os.Getenv("BENCH_PAIR_ORDER") == "guarded-first" {
		return []string{"guarded", "baseline"}
	}
	return []string{"baseline", "guarded"}
}

// Run runs side(b, metricsOn, guarded) as the pair's four sub-benchmarks:
// metrics on, then off, each side in Order's order.
func Run(b *testing.B, side func(b *testing.B, metricsOn, guarded bool)) {
	for _, on := range []bool{true, false} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			for _, impl := range Order() {
				b.Run("impl="+impl, func(b *testing.B) { side(b, on, impl == "guarded") })
			}
		})
	}
}

// An SDK is one side's OpenTelemetry set-up.
type SDK struct {
	TP *sdktrace.TracerProvider
	MP metric.MeterProvider
}

// NewSDK makes one side's providers, shut down when b ends: a
// TracerProvider sampling every span into a batch processor whose exporter
// discards, and an SDK MeterProvider with a ManualReader (metricsOn) or a
// noop one.
func NewSDK(b *testing.B, metricsOn bool) SDK {
	s := SDK{
		TP: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{})),
		MP: metricnoop.NewMeterProvider(),
	}
	b.Cleanup(func() { _ = s.TP.Shutdown(context.Background()) })
	if metricsOn {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		s.MP = mp
	}
	return s
}

// discard is an exporter that drops everything: the pairs measure the
// instrumented code, not an exporter.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }
