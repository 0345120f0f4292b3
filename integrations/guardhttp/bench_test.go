package guardhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The benchmarks compare each integration with what it wraps, in one run,
// baseline first (impl=bare), so that the repository's benchratio pairs
// sample i of impl=guardhttp with sample i of impl=bare. The Tracker
// records: AlwaysSample, a batch span processor, an exporter that
// discards; leak detection with stacks (the default); metrics off (the
// global MeterProvider, a noop, as in a program that sets none).

// discard is an exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

func benchTracker(b *testing.B) *otelguard.Tracker {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return tr
}

// BenchmarkTransport: a GET over loopback, read to its end and closed,
// through NewTransport against the same GET through the bare transport.
func BenchmarkTransport(b *testing.B) {
	srv := newServer(b, hello)
	tr := benchTracker(b)
	for _, impl := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{"bare", func(rt http.RoundTripper) http.RoundTripper { return rt }},
		{"guardhttp", func(rt http.RoundTripper) http.RoundTripper {
			return guardhttp.NewTransport(rt, guardhttp.WithTracker(tr))
		}},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			client := &http.Client{Transport: impl.wrap(newBase(b))}
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

// BenchmarkHandler: a GET over loopback served by a handler through
// NewHandler against the same handler bare. The handler writes a short
// body, as hello does.
func BenchmarkHandler(b *testing.B) {
	tr := benchTracker(b)
	for _, impl := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", hello},
		{"guardhttp", guardhttp.NewHandler(hello, guardhttp.WithTracker(tr))},
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

// BenchmarkHandlerServeHTTP: NewHandler's own cost, without the network:
// ServeHTTP called directly with a recorder, by a handler that acquires
// and closes one lifetime with its request's context (so the request's
// bookkeeping per lifetime is in it). No target: the figure says what
// NewHandler adds to a request in absolute terms.
func BenchmarkHandlerServeHTTP(b *testing.B) {
	tr := benchTracker(b)
	work := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := otelguard.Acquire(r.Context(), "work", 0, func(context.Context, int) error { return nil })
		_ = l.Close(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	for _, impl := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", work},
		{"guardhttp", guardhttp.NewHandler(work)},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			ctx := otelguard.ContextWithTracker(context.Background(), tr)
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				impl.h.ServeHTTP(w, req)
			}
		})
	}
}
