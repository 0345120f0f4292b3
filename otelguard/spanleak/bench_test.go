package spanleak_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is an exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkStartEnd starts and ends a recording span under an SDK with a
// batch processor to a discarding exporter, without spanleak (baseline)
// and with it, at the default sampling (every span watched) and at
// WithSampling(128).
func BenchmarkStartEnd(b *testing.B) {
	tracker := otelguard.New()
	defer func() { _ = tracker.Shutdown(context.Background()) }()
	for _, c := range []struct {
		impl string
		opts []spanleak.Option
		on   bool
	}{
		{"impl=baseline", nil, false},
		{"impl=spanleak", nil, true}, // the default: 16 per site, then 1 in 128
		{"impl=spanleak_every", []spanleak.Option{spanleak.WithSampling(1)}, true},
	} {
		b.Run(c.impl, func(b *testing.B) {
			var opts []sdktrace.TracerProviderOption
			if c.on {
				opts = append(opts, sdktrace.WithSpanProcessor(spanleak.NewProcessor(append(c.opts, spanleak.WithTracker(tracker))...)))
			}
			opts = append(opts, sdktrace.WithBatcher(discard{}))
			tp := sdktrace.NewTracerProvider(opts...)
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tr := tp.Tracer("bench")
			ctx := context.Background()
			// Each implementation starts from the same heap: the one before
			// must not leave this one a larger GC target.
			runtime.GC()
			b.ReportAllocs()
			for b.Loop() {
				_, s := tr.Start(ctx, "op")
				s.End()
			}
		})
	}
}
