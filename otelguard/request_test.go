package otelguard_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// A Request reports, when it ends, each lifetime acquired under it that is
// still open — at once, without a collection: span event, Warn record,
// counter — and leaves its outcome alone. Lifetimes closed in time, and
// those acquired with OutlivesRequest, are not reported.
func TestRequestReportsWhatOutlivesIt(t *testing.T) {
	var logs bytes.Buffer
	h := newMetricHarness(t, otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := otelguard.ContextWithTracker(context.Background(), h.tr)
	rctx, req := otelguard.ContextWithRequest(ctx, attribute.String("http.request.method", "GET"))
	rel := func(context.Context, int) error { return nil }
	closed := otelguard.Acquire(rctx, "closed", 0, rel)
	_ = closed.Close(rctx)
	child, cancel := context.WithCancel(rctx)
	defer cancel()
	left := otelguard.Acquire(child, "left.open", 0, rel) // a derived context: it belongs too
	pooled := otelguard.Acquire(rctx, "pooled", 0, rel, otelguard.OutlivesRequest())
	sc := otelguard.NewScope(rctx, "scope")
	sc.Defer("member", nop) // a member is the scope's to end: the scope is reported

	out := req.End(attribute.String("http.route", "/users/{id}"))
	var names []string
	for _, l := range out {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "left.open,scope" {
		t.Fatalf("End reported %v, want left.open and scope", names)
	}
	if again := req.End(); again != nil {
		t.Fatalf("a second End reported %d", len(again))
	}
	if n := len(h.rec.Ended()); n != 1 {
		t.Fatalf("%d spans ended: End must not end what it reports", n)
	}
	_ = left.Close(context.Background())
	_ = pooled.Close(context.Background())
	_ = sc.Close(context.Background())

	span := h.one(t, "left.open")
	wantEnd(t, span, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	var found bool
	for _, e := range span.Events() {
		if e.Name == attrkey.EventOutlived {
			a := map[attribute.Key]attribute.Value{}
			for _, kv := range e.Attributes {
				a[kv.Key] = kv.Value
			}
			found = a["http.request.method"].AsString() == "GET" && a["http.route"].AsString() == "/users/{id}"
		}
	}
	if !found {
		t.Fatalf("no %s event with the request's attributes: %+v", attrkey.EventOutlived, span.Events())
	}
	for _, n := range []string{"closed", "pooled", "member"} {
		for _, e := range h.one(t, n).Events() {
			if e.Name == attrkey.EventOutlived {
				t.Errorf("%s was reported", n)
			}
		}
	}
	m := h.collect(t)
	want := set(attrkey.Kind.String("resource"), attrkey.Name.String("left.open"),
		attribute.String("http.request.method", "GET"), attribute.String("http.route", "/users/{id}"))
	if n, _ := sumPoint[int64](t, m[attrkey.MetricOutlivedRequest], want); n != 1 {
		t.Errorf("%s{left.open} = %d, want 1", attrkey.MetricOutlivedRequest, n)
	}
	log := logs.String()
	if strings.Count(log, `msg="otelguard: lifetime outlived its request"`) != 2 ||
		!strings.Contains(log, "otelguard.name=left.open") || !strings.Contains(log, "http.route=/users/{id}") ||
		!strings.Contains(log, "code.stacktrace.0=\"github.com/otelguard/otelguard-go/otelguard_test.TestRequestReportsWhatOutlivesIt ") {
		t.Errorf("log:\n%s", log)
	}
}

// A lifetime belongs to the innermost Request; lifetimes acquired after
// End are not reported by it; a nil Request does nothing.
func TestRequestNestingAndEnd(t *testing.T) {
	h := newHarness(t)
	ctx := otelguard.ContextWithTracker(context.Background(), h.tr)
	octx, outer := otelguard.ContextWithRequest(ctx)
	ictx, inner := otelguard.ContextWithRequest(octx)
	g := otelguard.NewGuard(ictx, "g", nop)
	if n := len(outer.End()); n != 0 {
		t.Fatalf("the outer request reported %d lifetimes of the inner one", n)
	}
	if n := len(inner.End()); n != 1 {
		t.Fatalf("the inner request reported %d, want 1", n)
	}
	late := otelguard.NewGuard(ictx, "late", nop)
	if n := len(inner.End()); n != 0 {
		t.Fatalf("an ended request reported %d", n)
	}
	var none *otelguard.Request
	if none.End() != nil {
		t.Fatal("a nil Request reported something")
	}
	g.Disarm()
	late.Disarm()
}
