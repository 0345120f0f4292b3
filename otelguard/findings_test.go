package otelguard_test

// Findings: when the library learns something about a lifetime that its
// owner did not say, a root span of its own trace at that moment, linked
// to the lifetime's span, with its attributes given at start.

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// wantFinding returns the one finding of kind about name, checking the
// shape every finding has.
func wantFinding(t *testing.T, h *harness, kind, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var got []sdktrace.ReadOnlySpan
	for _, s := range h.finds.Ended() {
		a := attrs(s)
		if a["otelguard.finding"].AsString() == kind && a["otelguard.name"].AsString() == name {
			got = append(got, s)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d %s findings about %s, want 1 (all: %d)", len(got), kind, name, len(h.finds.Ended()))
	}
	s := got[0]
	if s.Parent().IsValid() {
		t.Errorf("finding has a parent %v: want a root span", s.Parent())
	}
	if len(s.Links()) != 1 {
		t.Fatalf("finding links %v, want the lifetime's span", s.Links())
	}
	a := attrs(s)
	if a["otelguard.kind"].AsString() == "" || !strings.Contains(a["code.stacktrace"].AsString(), "otelguard_test.") {
		t.Errorf("finding attrs %v", a)
	}
	if _, ok := a["otelguard.age_ms"]; !ok {
		t.Errorf("finding without otelguard.age_ms")
	}
	return s
}

// The link points at the lifetime's span.
func linksTo(t *testing.T, f, lifetime sdktrace.ReadOnlySpan) {
	t.Helper()
	if f.Links()[0].SpanContext.SpanID() != lifetime.SpanContext().SpanID() {
		t.Errorf("finding links to %v, want %v", f.Links()[0].SpanContext.SpanID(), lifetime.SpanContext().SpanID())
	}
}

// A held_too_long finding is emitted while the lifetime is still open:
// a tracing backend shows it before the lifetime ends.
func TestFindingHeldTooLongWhileStillOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t)
		g := otelguard.NewGuard(context.Background(), "checkout", nop, otelguard.WithTracker(h.tr), otelguard.WithHoldThreshold(time.Second))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		f := wantFinding(t, h, "held_too_long", "checkout")
		if len(h.rec.Ended()) != 0 {
			t.Fatal("the lifetime ended")
		}
		if age := attrs(f)["otelguard.age_ms"].AsFloat64(); age != 1000 {
			t.Errorf("age %v ms, want 1000", age)
		}
		_ = g.Run()
		linksTo(t, f, h.one(t, "checkout"))
	})
}

func TestFindingLeak(t *testing.T) {
	h := newHarness(t)
	leakResource(h.tr)
	collectLeaks(t, h.tr, 1)
	linksTo(t, wantFinding(t, h, "leaked_without_close", "leaky"), h.one(t, "leaky"))
}

func TestFindingOpenAtShutdown(t *testing.T) {
	h := newHarness(t)
	otelguard.NewGuard(context.Background(), "held", nop, otelguard.WithTracker(h.tr)) //otelguard:handoff reported at shutdown
	_ = h.tr.Shutdown(boundedCtx())
	linksTo(t, wantFinding(t, h, "open_at_shutdown", "held"), h.one(t, "held"))
}

// An outlived_request finding carries the Request's attributes, given at
// start.
func TestFindingOutlivedRequest(t *testing.T) {
	h := newHarness(t)
	rctx, req := otelguard.ContextWithRequest(otelguard.ContextWithTracker(context.Background(), h.tr),
		attribute.String("http.request.method", "GET"))
	r := otelguard.Acquire(rctx, "db.rows", 0, func(context.Context, int) error { return nil })
	req.End(attribute.String("http.route", "/orders/{id}"))
	f := wantFinding(t, h, "outlived_request", "db.rows")
	if a := attrs(f); a["http.request.method"].AsString() != "GET" || a["http.route"].AsString() != "/orders/{id}" {
		t.Errorf("finding lacks the request's attributes: %v", a)
	}
	_ = r.Close(context.Background())
}

func TestFindingClosedByContext(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := acquireForContext(ctx, h.tr)
	cancel()
	_ = r.Close(context.Background())
	linksTo(t, wantFinding(t, h, "closed_by_context", "db.rows"), h.one(t, "db.rows"))
}

// Findings are rate-limited per call site and finding: one span per site
// per interval, the ones folded meanwhile counted in otelguard.repeats on
// the next.
func TestFindingsAreRateLimitedPerSite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t, otelguard.WithLeakLogInterval(time.Minute))
		open := func() {
			for range 5 {
				otelguard.NewGuard(context.Background(), "held", nop, otelguard.WithTracker(h.tr), otelguard.WithHoldThreshold(time.Second)) //otelguard:handoff the test ends it with CloseAll
			}
		}
		for round := range 2 { // one line: one acquire stack, one site
			open()
			time.Sleep(2 * time.Second) // five held_too_long: one span per interval
			synctest.Wait()
			if n := len(h.finds.Ended()); n != round+1 {
				t.Fatalf("round %d: %d findings, want %d", round, n, round+1)
			}
			time.Sleep(time.Minute)
		}
		fs := h.finds.Ended()
		if got := attrs(fs[1])["otelguard.repeats"].AsInt64(); got != 4 {
			t.Errorf("otelguard.repeats = %d, want 4 (the ones folded in the first interval)", got)
		}
		_ = h.tr.CloseAll(boundedCtx())
	})
}

// The happy path emits no finding.
func TestNoFindingOnTheHappyPath(t *testing.T) {
	h := newHarness(t)
	for range 100 {
		_ = otelguard.Acquire(context.Background(), "r", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr)).Close(context.Background())
	}
	otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(h.tr)).Disarm()
	_ = h.tr.Shutdown(boundedCtx())
	if n := len(h.finds.Ended()); n != 0 {
		t.Fatalf("%d findings", n)
	}
}

// Findings folded by the rate limit are not lost to a site that finds
// nothing more: Shutdown emits the latest with otelguard.repeats.
func TestFoldedFindingsAreFlushedAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := offHarness(t, otelguard.WithLeakLogInterval(time.Hour))
		for range 3 { // one line: one site
			otelguard.NewGuard(context.Background(), "held", nop, otelguard.WithTracker(h.tr), otelguard.WithHoldThreshold(time.Second)) //otelguard:handoff closed by CloseAll
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := len(h.finds.Ended()); n != 1 {
			t.Fatalf("%d findings before Shutdown, want 1 (two folded)", n)
		}
		_ = h.tr.CloseAll(context.Background())
		_ = h.tr.Shutdown(context.Background())
		var held []int64
		for _, s := range h.finds.Ended() {
			if a := attrs(s); a["otelguard.finding"].AsString() == "held_too_long" {
				held = append(held, a["otelguard.repeats"].AsInt64())
			}
		}
		if len(held) != 2 || held[0] != 0 || held[1] != 2 {
			t.Fatalf("held_too_long findings' repeats %v, want [0 2]: the first, then a summary of the two folded", held)
		}
	})
}
