package guardgrpc_test

import (
	"context"
	"io"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// discard is a SpanExporter that drops what it is given: the benchmark
// measures recording and batching, not an exporter.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkPairGRPC measures, in one run over loopback, a unary Check and a
// Watch stream of 10 messages read to its end, instrumented with otelgrpc's
// stats handlers alone (impl=baseline) and with guardgrpc's interceptors
// too (impl=guarded: the client stream interceptor, the unary
// and stream server interceptors). Every span is recorded (AlwaysSample)
// and handed to a batch processor with a discarding exporter; otelgrpc and
// the Tracker record metrics into a MeterProvider with a reader, as users
// run them. Leak detection is at its default.
func BenchmarkPairGRPC(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithMeterProvider(mp))
	b.Cleanup(func() {
		_ = tr.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	otel := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp)}

	// impl=baseline is otelgrpc alone, impl=guarded otelgrpc and guardgrpc:
	// the shape make bench-pairs and benchratio read (issue 29).
	clients := map[string]*grpc.ClientConn{
		"baseline": dial(b, newServer(b, nil, grpc.StatsHandler(otelgrpc.NewServerHandler(otel...))),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otel...))),
		"guarded": dial(b, newServer(b, nil,
			grpc.StatsHandler(otelgrpc.NewServerHandler(otel...)),
			grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tr))),
			grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor(guardgrpc.WithTracker(tr)))),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otel...)),
			grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr)))),
	}
	impls := []string{"baseline", "guarded"}
	ctx := context.Background()

	b.Run("call=unary", func(b *testing.B) {
		for _, impl := range impls {
			client := healthpb.NewHealthClient(clients[impl])
			b.Run("impl="+impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	b.Run("call=stream10", func(b *testing.B) {
		for _, impl := range impls {
			client := healthpb.NewHealthClient(clients[impl])
			req := &healthpb.HealthCheckRequest{Service: "count=10"}
			b.Run("impl="+impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s, err := client.Watch(ctx, req)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						if _, err = s.Recv(); err != nil {
							break
						}
						n++
					}
					if err != io.EOF || n != 10 {
						b.Fatalf("read %d messages, then %v", n, err)
					}
				}
			})
		}
	})
	if live := tr.Live(); len(live) != 0 {
		b.Fatalf("%d lifetimes open after the benchmark", len(live))
	}
}
