package otelguard_test

import (
	"context"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkLifecycleMetricsOn is BenchmarkLifecycle's first pair as users
// get it (issue 29): otelguard with metrics on, an SDK MeterProvider with
// a ManualReader (never collected: its cost is the recording, not an
// export), against the same hand-rolled lifecycle, which records no
// metrics (a careful user's hand-rolled code has none either). The other
// benchmarks of bench_test.go measure with metrics off (benchTracker's
// noop MeterProvider), which is not the default: this is the figure for
// the default, published beside theirs.
func BenchmarkLifecycleMetricsOn(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=handrolled", func(b *testing.B) {
		tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
		b.ReportAllocs()
		for b.Loop() {
			h := handAcquire(ctx, tracer)
			_ = h.Close(ctx, releaseNop)
		}
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(ctx) })
		tr := otelguard.New(otelguard.WithTracerProvider(batchProvider(b, sdktrace.AlwaysSample())), otelguard.WithMeterProvider(mp))
		b.Cleanup(func() { _ = tr.Shutdown(ctx) })
		v := benchValue()
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(ctx, "db.conn", v, releaseInt, otelguard.WithTracker(tr))
			_ = r.Close(ctx)
		}
	})
}
