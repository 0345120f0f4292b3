package guardhttp_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace/noop"
)

// otelhttpOutside is otelhttp's Transport around NewTransport.
func otelhttpOutside(tr *otelguard.Tracker, base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(guardhttp.NewTransport(base, guardhttp.WithTracker(tr)),
		otelhttp.WithTracerProvider(noop.NewTracerProvider()))
}

// otelhttpInside is NewTransport around otelhttp's Transport.
func otelhttpInside(tr *otelguard.Tracker, base http.RoundTripper) http.RoundTripper {
	return guardhttp.NewTransport(otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(noop.NewTracerProvider())), guardhttp.WithTracker(tr))
}

// A response body's lifetime nests under otelhttp's client span, which
// nests under the caller's span, whichever of the two Transports wraps the
// other.
func TestBodyNestsUnderOtelhttpClientSpan(t *testing.T) {
	t.Parallel()
	srv := newServer(t, hello)
	for _, order := range []string{"otelhttp outside", "otelhttp inside"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			rec := otelguardtest.NewTracker(t)
			tp := otelhttp.WithTracerProvider(rec.TracerProvider)
			var rt http.RoundTripper
			if order == "otelhttp outside" {
				rt = otelhttp.NewTransport(guardhttp.NewTransport(newBase(t)), tp)
			} else {
				rt = guardhttp.NewTransport(otelhttp.NewTransport(newBase(t), tp))
			}
			client := &http.Client{Transport: rt}

			ctx, parent := rec.TracerProvider.Tracer("test").Start(rec.Context(), "parent")
			resp := get(t, ctx, client, srv.URL)
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
			if err := resp.Body.Close(); err != nil {
				t.Fatal(err)
			}
			parent.End()

			spans := rec.Exporter.Spans()
			clientSpan := spanByName(t, spans, "HTTP GET")
			body := spanByName(t, spans, guardhttp.LifetimeName)
			if clientSpan.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("otelhttp's span is not a child of the caller's")
			}
			if body.Parent.SpanID() != clientSpan.SpanContext.SpanID() {
				t.Errorf("the body's parent is %v, want otelhttp's client span %v (the caller's is %v)",
					body.Parent.SpanID(), clientSpan.SpanContext.SpanID(), parent.SpanContext().SpanID())
			}
			l := only(t, rec.Lifetimes(), guardhttp.LifetimeName)
			if l.Outcome != otelguard.OutcomeCleaned || !attrs(l.Span.Attributes)[guardhttp.DrainedKey].AsBool() {
				t.Errorf("%s drained=%v, want cleaned and drained", l.Outcome, attrs(l.Span.Attributes)[guardhttp.DrainedKey].AsBool())
			}
		})
	}
}
