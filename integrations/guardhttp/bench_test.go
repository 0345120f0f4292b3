package guardhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
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
	tr, _ := benchTrackerAndTracer(b)
	return tr
}

// benchTrackerAndTracer is benchTracker, with a tracer of the same
// provider for the impl=span baselines.
func benchTrackerAndTracer(b *testing.B) (*otelguard.Tracker, trace.Tracer) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return tr, tp.Tracer("bench")
}

// spanTransport is the impl=span baseline's RoundTripper: the bare
// transport with one raw span per request, started with the request's
// attributes, given the response's status, and ended when the body is
// closed: about the least a span per response body costs, without the
// lifetime around it (no stack, no leak detection, no registry).
type spanTransport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (t spanTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, span := t.tracer.Start(r.Context(), guardhttp.LifetimeName, trace.WithAttributes(
		semconv.HTTPRequestMethodGet, semconv.ServerAddress(r.URL.Hostname()), semconv.ServerPort(8080)))
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		span.End()
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	resp.Body = spanBody{resp.Body, span}
	return resp, nil
}

type spanBody struct {
	io.ReadCloser
	span trace.Span
}

func (b spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.span.End()
	return err
}

// BenchmarkTransport: a GET over loopback, read to its end and closed,
// through NewTransport against the same GET through the bare transport,
// and through the bare transport with one raw span per response body
// (impl=span, spanTransport).
func BenchmarkTransport(b *testing.B) {
	srv := newServer(b, hello)
	tr, tracer := benchTrackerAndTracer(b)
	for _, impl := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{"bare", func(rt http.RoundTripper) http.RoundTripper { return rt }},
		{"span", func(rt http.RoundTripper) http.RoundTripper { return spanTransport{rt, tracer} }},
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

// memoryTransport answers every request from memory with a short body, as
// a fresh response each time: no network, so that BenchmarkTransportOwn
// measures what NewTransport adds, not the loopback's noise.
type memoryTransport struct{}

func (memoryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{},
		Body:          io.NopCloser(strings.NewReader("hello, world\n")),
		ContentLength: 13,
		Request:       r,
	}, nil
}

// BenchmarkTransportOwn: NewTransport's own cost, without the network: a
// GET through an http.Client whose base transport answers from memory,
// read to its end and closed, against the same through the base alone.
// No target: the figure says what NewTransport adds to a request in
// absolute terms.
func BenchmarkTransportOwn(b *testing.B) {
	tr, tracer := benchTrackerAndTracer(b)
	for _, impl := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", memoryTransport{}},
		{"span", spanTransport{memoryTransport{}, tracer}},
		{"guardhttp", guardhttp.NewTransport(memoryTransport{}, guardhttp.WithTracker(tr))},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			client := &http.Client{Transport: impl.rt}
			req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/", nil)
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
