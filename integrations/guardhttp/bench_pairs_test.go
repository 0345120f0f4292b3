package guardhttp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The pair benchmarks (issue 29) measure what a team that already traces
// its HTTP client with otelhttp pays for adding guardhttp: a GET through
// otelhttp.NewTransport alone (impl=baseline) against the same GET through
// otelhttp.NewTransport wrapping guardhttp.NewTransport (impl=guarded),
// with the same OpenTelemetry SDK set-up on both sides. Their shape,
// shared by every integration module's BenchmarkPair* (make bench-pairs
// runs them all):
//
//	BenchmarkPair<Name>/metrics=<on|off>/impl=<baseline|guarded>
//
//   - the SDK as users get it: a TracerProvider sampling every root span,
//     with a batch span processor to an exporter that discards; metrics=on
//     an SDK MeterProvider with a ManualReader (never collected), given to
//     the alternative and to the Tracker alike; metrics=off a noop
//     MeterProvider on both sides;
//   - leak detection at its default (stacks), no other Tracker option;
//   - each side builds its own providers, Tracker, server and client in
//     its sub-benchmark, so that nothing of one side is measured in the
//     other;
//   - the order of the two sides follows $BENCH_PAIR_ORDER:
//     "guarded-first" runs impl=guarded before impl=baseline, anything
//     else the baseline first. make bench-pairs flips it run by run, so
//     that neither side always runs first in its process;
//   - the target is guarded ≤ 1.10× baseline (ns/op, paired run by run by
//     internal/cmd/benchratio).

// pairOrder is the order of a pair's two sides, from $BENCH_PAIR_ORDER.
func pairOrder() []string {
	if os.Getenv("BENCH_PAIR_ORDER") == "guarded-first" {
		return []string{"guarded", "baseline"}
	}
	return []string{"baseline", "guarded"}
}

// runPair runs side(b, metricsOn, guarded) as the pair's four
// sub-benchmarks: metrics on, then off, each side in pairOrder's order.
func runPair(b *testing.B, side func(b *testing.B, metricsOn, guarded bool)) {
	for _, on := range []bool{true, false} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			for _, impl := range pairOrder() {
				b.Run("impl="+impl, func(b *testing.B) { side(b, on, impl == "guarded") })
			}
		})
	}
}

// pairSDK is one side's OpenTelemetry set-up.
type pairSDK struct {
	tp *sdktrace.TracerProvider
	mp metric.MeterProvider
}

func newPairSDK(b *testing.B, metricsOn bool) pairSDK {
	s := pairSDK{
		tp: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{})),
		mp: metricnoop.NewMeterProvider(),
	}
	b.Cleanup(func() { _ = s.tp.Shutdown(context.Background()) })
	if metricsOn {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		s.mp = mp
	}
	return s
}

// tracker is a Tracker of s's providers, shut down when b ends.
func (s pairSDK) tracker(b *testing.B) *otelguard.Tracker {
	tr := otelguard.New(otelguard.WithTracerProvider(s.tp), otelguard.WithMeterProvider(s.mp))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	return tr
}

// bodyHandler answers every GET with size bytes, with their length.
func bodyHandler(size int) http.Handler {
	body := bytes.Repeat([]byte("x"), size)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(body)
	})
}

// pairGET measures one side: a GET over loopback of a body of size bytes,
// read to its end and closed, through otelhttp's Transport, wrapping
// guardhttp's for the guarded side.
func pairGET(b *testing.B, size int, metricsOn, guarded bool) {
	s := newPairSDK(b, metricsOn)
	srv := newServer(b, bodyHandler(size))
	var rt http.RoundTripper = newBase(b)
	if guarded {
		rt = guardhttp.NewTransport(rt, guardhttp.WithTracker(s.tracker(b)))
	}
	client := &http.Client{Transport: otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(s.tp), otelhttp.WithMeterProvider(s.mp))}
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != int64(size) {
			b.Fatalf("read %d bytes (%v), want %d", n, err, size)
		}
		if err := resp.Body.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPairGET2KiB: a loopback GET of a 2 KiB body.
func BenchmarkPairGET2KiB(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) { pairGET(b, 2<<10, metricsOn, guarded) })
}

// BenchmarkPairGET64KiB: a loopback GET of a 64 KiB body.
func BenchmarkPairGET64KiB(b *testing.B) {
	runPair(b, func(b *testing.B, metricsOn, guarded bool) { pairGET(b, 64<<10, metricsOn, guarded) })
}

// BenchmarkHandlerLifetime is BenchmarkHandler with a handler that does
// what NewHandler is for: it acquires one lifetime with its request's
// context and closes it (and writes the short body hello writes), bare
// against the same handler through NewHandler. Both use the same Tracker
// (recording, as benchTracker's, metrics off as there); through
// NewHandler the lifetime is also the request's (Request bookkeeping).
// This is the figure for "what NewHandler adds to a request that holds
// something"; BenchmarkHandler's handler holds nothing.
func BenchmarkHandlerLifetime(b *testing.B) {
	tr := benchTracker(b)
	work := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := otelguard.Acquire(r.Context(), "work", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
		_ = l.Close(r.Context())
		_, _ = io.WriteString(w, "hello, world\n")
	})
	for _, impl := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", work},
		{"guardhttp", guardhttp.NewHandler(work, guardhttp.WithTracker(tr))},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			srv := newServer(b, impl.h)
			client := &http.Client{Transport: newBase(b)}
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
