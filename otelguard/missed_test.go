package otelguard_test

// Missed closes: every lifetime its owner never ended — leaked, open at
// Shutdown, or ended because a context ended (MissedClose) — carries
// otelguard.missed_close=true, status Error with a description and the
// acquire stack, is counted, logged, and recorded for otelguardtest.

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// wantMissed checks what every missed close's span carries.
func wantMissed(t *testing.T, s sdktrace.ReadOnlySpan, desc string) {
	t.Helper()
	a := attrs(s)
	if !a["otelguard.missed_close"].AsBool() {
		t.Errorf("%s: no otelguard.missed_close=true: %v", s.Name(), a)
	}
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, desc) {
		t.Errorf("%s: status %+v, want Error with %q", s.Name(), s.Status(), desc)
	}
	if !strings.Contains(a["code.stacktrace"].AsString(), "acquireForContext") &&
		!strings.Contains(a["code.stacktrace"].AsString(), "otelguard_test.Test") {
		t.Errorf("%s: stack does not name the acquiring code:\n%s", s.Name(), a["code.stacktrace"].AsString())
	}
}

//go:noinline
func acquireForContext(ctx context.Context, tr *otelguard.Tracker) *otelguard.Resource[int] {
	// An integration's release: it learns the context ended first, as
	// database/sql's rows do, and says so.
	return otelguard.Acquire(ctx, "db.rows", 0, func(rctx context.Context, _ int) error {
		if ctx.Err() != nil {
			otelguard.MissedClose(rctx, "closed by database/sql because its context ended")
			otelguard.SetEndAttributes(rctx, attribute.String("otelguard.db.closed_by", "context"))
		}
		return nil
	}, otelguard.WithTracker(tr))
}

func TestMissedCloseByContext(t *testing.T) {
	var logs bytes.Buffer
	h := newMetricHarness(t, otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	r := acquireForContext(ctx, h.tr)
	cancel()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := h.one(t, "db.rows")
	wantEnd(t, s, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantMissed(t, s, "closed by database/sql")
	if got := attrs(s)["otelguard.db.closed_by"].AsString(); got != "context" {
		t.Errorf("SetEndAttributes: otelguard.db.closed_by = %q", got)
	}
	if !strings.Contains(logs.String(), "otelguard: lifetime closed_by_context") ||
		!strings.Contains(logs.String(), "otelguard.missed_close=true") {
		t.Errorf("log:\n%s", logs.String())
	}
	if ms, _, total := bridge.MissedOf(h.tr); total != 1 || ms[0].What != "closed_by_context" || ms[0].Name != "db.rows" {
		t.Errorf("records %+v (total %d)", ms, total)
	}
	if n := missedCount(t, h); n != 1 {
		t.Errorf("otelguard.lifetime.missed_close = %d, want 1", n)
	}
}

// A release that does not call MissedClose is no missed close; a
// MissedClose or SetEndAttributes outside a release does nothing.
func TestNoMissedCloseWithoutTheCall(t *testing.T) {
	h := newMetricHarness(t)
	otelguard.MissedClose(context.Background(), "not in a release")
	otelguard.SetEndAttributes(context.Background(), attribute.Bool("x", true))
	r := acquireForContext(context.Background(), h.tr)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := h.one(t, "db.rows")
	if _, ok := attrs(s)["otelguard.missed_close"]; ok || s.Status().Code == codes.Error {
		t.Fatalf("a clean close marked missed: %v %+v", attrs(s), s.Status())
	}
	if n := missedCount(t, h); n != 0 {
		t.Errorf("otelguard.lifetime.missed_close = %d, want 0", n)
	}
}

func TestOpenAtShutdownIsAMissedClose(t *testing.T) {
	h := newMetricHarness(t)
	otelguard.NewGuard(context.Background(), "held", nop, otelguard.WithTracker(h.tr)) //otelguard:handoff reported at shutdown
	if err := h.tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	s := h.one(t, "held")
	wantEnd(t, s, otelguard.OutcomeOpenAtShutdown, otelguard.TriggerShutdown)
	wantMissed(t, s, "Shutdown")
	if n := missedCount(t, h); n != 1 {
		t.Errorf("otelguard.lifetime.missed_close = %d, want 1", n)
	}
}

func TestLeakIsAMissedClose(t *testing.T) {
	h := newMetricHarness(t)
	leakResource(h.tr)
	collectLeaks(t, h.tr, 1)
	s := h.one(t, "leaky")
	wantMissed(t, s, "unreachable")
	if n := missedCount(t, h); n != 1 {
		t.Errorf("otelguard.lifetime.missed_close = %d, want 1", n)
	}
}

// CloseOnCancel, CloseAll, Detach and Disarm are not missed closes: the
// owner asked for each.
func TestOwnersEndsAreNotMissedCloses(t *testing.T) {
	h := newMetricHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	otelguard.Acquire(ctx, "cancel", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr), otelguard.CloseOnCancel()) //otelguard:handoff the context owns it
	cancel()
	otelguard.NewGuard(context.Background(), "closeall", nop, otelguard.WithTracker(h.tr)) //otelguard:handoff CloseAll releases it
	if err := h.tr.CloseAll(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	otelguard.Acquire(context.Background(), "detach", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr)).Detach()
	otelguard.NewGuard(context.Background(), "disarm", nop, otelguard.WithTracker(h.tr)).Disarm()
	for _, s := range h.rec.Ended() {
		if _, ok := attrs(s)["otelguard.missed_close"]; ok {
			t.Errorf("%s marked missed", s.Name())
		}
	}
	if n := missedCount(t, h); n != 0 {
		t.Errorf("otelguard.lifetime.missed_close = %d, want 0", n)
	}
}

func missedCount(t *testing.T, h *metricHarness) int64 {
	t.Helper()
	m, ok := h.collect(t)["otelguard.lifetime.missed_close"]
	if !ok {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// SetEndAttributes in a ReleaseOnLeak release reaches the leaked span.
func TestSetEndAttributesInAReleaseOnLeakRelease(t *testing.T) {
	h := newHarness(t)
	dropWithEndAttributes(h.tr)
	collectLeaks(t, h.tr, 1)
	if got := attrs(h.one(t, "drained"))["body.drained"].AsBool(); !got {
		t.Fatalf("the release's end attribute was dropped on the leak: %v", attrs(h.one(t, "drained")))
	}
}

//go:noinline
func dropWithEndAttributes(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose
	otelguard.Acquire(context.Background(), "drained", 0, func(ctx context.Context, _ int) error {
		otelguard.SetEndAttributes(ctx, attribute.Bool("body.drained", true))
		return nil
	}, otelguard.WithTracker(tr), otelguard.ReleaseOnLeak())
}
