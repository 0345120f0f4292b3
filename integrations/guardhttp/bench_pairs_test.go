package guardhttp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/internal/benchpair"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// The pair benchmarks (issue 29) measure what a team that already traces
// its HTTP client with otelhttp pays for adding guardhttp: a GET through
// otelhttp.NewTransport alone (impl=baseline) against the same GET through
// otelhttp.NewTransport wrapping guardhttp.NewTransport (impl=guarded),
// with the same OpenTelemetry SDK set-up on both sides. Their shape
// is internal/benchpair's, shared by every integration module.

// pairTracker is a Tracker of s's providers, shut down when b ends.
func pairTracker(b *testing.B, s benchpair.SDK) *otelguard.Tracker {
	tr := otelguard.New(otelguard.WithTracerProvider(s.TP), otelguard.WithMeterProvider(s.MP))
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
	s := benchpair.NewSDK(b, metricsOn)
	srv := newServer(b, bodyHandler(size))
	var rt http.RoundTripper = newBase(b)
	if guarded {
		rt = guardhttp.NewTransport(rt, guardhttp.WithTracker(pairTracker(b, s)))
	}
	client := &http.Client{Transport: otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(s.TP), otelhttp.WithMeterProvider(s.MP))}
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
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) { pairGET(b, 2<<10, metricsOn, guarded) })
}

// BenchmarkPairGET64KiB: a loopback GET of a 64 KiB body.
func BenchmarkPairGET64KiB(b *testing.B) {
	benchpair.Run(b, func(b *testing.B, metricsOn, guarded bool) { pairGET(b, 64<<10, metricsOn, guarded) })
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
