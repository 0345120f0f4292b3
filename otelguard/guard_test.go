package otelguard_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func TestGuardRunCleans(t *testing.T) {
	h := newHarness(t)
	ran := 0
	g := otelguard.NewGuard(context.Background(), "tx.rollback", func(context.Context) error { ran++; return nil }, otelguard.WithTracker(h.tr))
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if err := g.Run(); err != nil {
		t.Fatalf("second Run = %v, want nil", err)
	}
	if g.Disarm() {
		t.Error("Disarm after Run = true")
	}
	if ran != 1 {
		t.Fatalf("cleanup ran %d times, want 1", ran)
	}
	s := h.one(t, "tx.rollback")
	a := wantEnd(t, s, otelguard.OutcomeCleaned, otelguard.TriggerDefer)
	if a[attrkey.Kind].AsString() != "guard" {
		t.Errorf("kind = %v", a[attrkey.Kind])
	}
	if _, ok := a[attrkey.CleanupDuration]; !ok {
		t.Error("no cleanup duration")
	}
	if _, ok := a[attrkey.CleanupDetached]; ok {
		t.Error("detached set on a live context")
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v", s.Status())
	}
	if len(s.Events()) != 0 {
		t.Errorf("happy path recorded events: %v", s.Events())
	}
}

func TestGuardRunFails(t *testing.T) {
	h := newHarness(t)
	boom := errors.New("rollback failed")
	g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { return boom }, otelguard.WithTracker(h.tr))
	if err := g.Run(); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	s := h.one(t, "g")
	a := wantEnd(t, s, otelguard.OutcomeFailed, otelguard.TriggerDefer)
	if a[attrkey.ErrorType].AsString() != "*errors.errorString" {
		t.Errorf("error.type = %v", a[attrkey.ErrorType])
	}
	if s.Status().Code != codes.Error || s.Status().Description != "rollback failed" {
		t.Errorf("status = %v", s.Status())
	}
}

func TestGuardDisarm(t *testing.T) {
	h := newHarness(t)
	ran := false
	g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { ran = true; return nil }, otelguard.WithTracker(h.tr))
	if !g.Disarm() {
		t.Fatal("first Disarm = false")
	}
	if g.Disarm() {
		t.Error("second Disarm = true")
	}
	if err := g.Run(); err != nil || ran {
		t.Fatalf("Run after Disarm = %v, ran = %v", err, ran)
	}
	wantEnd(t, h.one(t, "g"), otelguard.OutcomeDisarmed, otelguard.TriggerDisarm)
	if n := len(h.tr.Live()); n != 0 {
		t.Errorf("Live has %d after Disarm", n)
	}
}

func TestGuardSpanIsChildAndCleanupSeesIt(t *testing.T) {
	h := newHarness(t)
	ctx, parent := h.tp.Tracer("test").Start(context.Background(), "request")
	var inCleanup trace.SpanContext
	g := otelguard.NewGuard(ctx, "g", func(ctx context.Context) error {
		inCleanup = trace.SpanContextFromContext(ctx)
		return nil
	}, otelguard.WithTracker(h.tr))
	_ = g.Run()
	parent.End()
	s := h.one(t, "g")
	if s.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("guard span parent = %v, want request span", s.Parent().SpanID())
	}
	if inCleanup.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("cleanup ctx span = %v, want the guard's span %v", inCleanup.SpanID(), s.SpanContext().SpanID())
	}
}

func TestGuardDeferDuringPanic(t *testing.T) {
	h := newHarness(t)
	ran := false
	type sentinel struct{ n int }
	want := &sentinel{42}
	got := func() (v any) {
		defer func() { v = recover() }()
		func() {
			g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { ran = true; return nil }, otelguard.WithTracker(h.tr))
			defer g.Run()
			panic(want)
		}()
		return nil
	}()
	if got != want {
		t.Fatalf("recovered %v, want the same value %v", got, want)
	}
	if !ran {
		t.Fatal("cleanup did not run during the panic")
	}
	wantEnd(t, h.one(t, "g"), otelguard.OutcomeCleaned, otelguard.TriggerPanic)
}

func TestGuardCleanupPanicsDuringPanic(t *testing.T) {
	h := newHarness(t)
	hd := captureHandled(t)
	got := func() (v any) {
		defer func() { v = recover() }()
		g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { panic("cleanup panic") }, otelguard.WithTracker(h.tr))
		defer g.Run()
		panic("original")
	}()
	if got != "original" {
		t.Fatalf("recovered %v, want the original panic", got)
	}
	a := wantEnd(t, h.one(t, "g"), otelguard.OutcomeFailed, otelguard.TriggerPanic)
	if a[attrkey.ErrorType].AsString() != "panic" {
		t.Errorf("error.type = %v", a[attrkey.ErrorType])
	}
	errs := hd.all()
	var pe *otelguard.PanicError
	if len(errs) != 1 || !errors.As(errs[0], &pe) || pe.Value != "cleanup panic" {
		t.Fatalf("otel.Handle got %v, want the cleanup's panic", errs)
	}
}

func TestGuardCleanupPanicPropagates(t *testing.T) {
	h := newHarness(t)
	got := func() (v any) {
		defer func() { v = recover() }()
		g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { panic("in cleanup") }, otelguard.WithTracker(h.tr))
		_ = g.Run()
		return nil
	}()
	if got != "in cleanup" {
		t.Fatalf("recovered %v", got)
	}
	s := h.one(t, "g")
	a := wantEnd(t, s, otelguard.OutcomeFailed, otelguard.TriggerDefer)
	// Nothing recovers the panic on the caller's goroutine (it keeps its
	// stack): the span can only say the cleanup did not return.
	if a[attrkey.ErrorType].AsString() != "panic_or_goexit" {
		t.Errorf("error.type = %v", a[attrkey.ErrorType])
	}
}

func TestGuardGoexit(t *testing.T) {
	h := newHarness(t)
	done := make(chan struct{})
	ran := false
	go func() {
		defer close(done)
		g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { ran = true; return nil }, otelguard.WithTracker(h.tr))
		defer g.Run()
		runtime.Goexit()
	}()
	<-done
	if !ran {
		t.Fatal("cleanup did not run on Goexit")
	}
	// Run cannot see Goexit: documented as trigger defer.
	wantEnd(t, h.one(t, "g"), otelguard.OutcomeCleaned, otelguard.TriggerDefer)
}

func TestGuardCleanupCallsGoexit(t *testing.T) {
	h := newHarness(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g := otelguard.NewGuard(context.Background(), "g", func(context.Context) error { runtime.Goexit(); return nil }, otelguard.WithTracker(h.tr))
		_ = g.Run()
		t.Error("Run returned after Goexit")
	}()
	<-done
	a := wantEnd(t, h.one(t, "g"), otelguard.OutcomeFailed, otelguard.TriggerDefer)
	if a[attrkey.ErrorType].AsString() != "panic_or_goexit" {
		t.Errorf("error.type = %v", a[attrkey.ErrorType])
	}
	if n := len(h.tr.Live()); n != 0 {
		t.Errorf("Live = %d after a Goexit cleanup", n)
	}
}

func TestGuardDetachedWhenCtxDone(t *testing.T) {
	h := newHarness(t, otelguard.WithCleanupTimeout(3*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	type key struct{}
	ctx = context.WithValue(ctx, key{}, "v")
	var cerr error
	var deadline time.Time
	var val any
	g := otelguard.NewGuard(ctx, "g", func(ctx context.Context) error {
		cerr = ctx.Err()
		deadline, _ = ctx.Deadline()
		val = ctx.Value(key{})
		return nil
	}, otelguard.WithTracker(h.tr))
	cancel()
	start := time.Now()
	_ = g.Run()
	if cerr != nil {
		t.Errorf("cleanup ctx already done: %v", cerr)
	}
	if d := deadline.Sub(start); d <= 0 || d > 3*time.Second+time.Since(start) {
		t.Errorf("cleanup deadline %v after Run, want within the 3s cleanup timeout", d)
	}
	if val != "v" {
		t.Errorf("values lost when detaching: %v", val)
	}
	a := wantEnd(t, h.one(t, "g"), otelguard.OutcomeCleaned, otelguard.TriggerDefer)
	if !a[attrkey.CleanupDetached].AsBool() {
		t.Error("detached not recorded")
	}
}

func TestGuardDeadlineExceededIsTimedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, otelguard.WithCleanupTimeout(5*time.Second))
		ctx, cancel := context.WithCancel(context.Background())
		g := otelguard.NewGuard(ctx, "g", func(ctx context.Context) error {
			<-ctx.Done() // the detached context's cleanup timeout runs out
			return ctx.Err()
		}, otelguard.WithTracker(h.tr))
		cancel()
		start := time.Now()
		err := g.Run()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Run took %v, want the 5s cleanup timeout", d)
		}
		a := wantEnd(t, h.one(t, "g"), otelguard.OutcomeTimedOut, otelguard.TriggerDefer)
		if a[attrkey.ErrorType].AsString() != "timeout" {
			t.Errorf("error.type = %v", a[attrkey.ErrorType])
		}
		if !a[attrkey.CleanupDetached].AsBool() {
			t.Error("not detached")
		}
	})
}

func TestPackageNewGuardUsesWithTracker(t *testing.T) {
	h := newHarness(t)
	g := otelguard.NewGuard(context.Background(), "pkg", nop, otelguard.WithTracker(h.tr))
	_ = g.Run()
	h.one(t, "pkg")
}

func TestTrackerMethodIgnoresWithTracker(t *testing.T) {
	h1 := newHarness(t)
	h2 := newHarness(t)
	g := otelguard.NewGuard(context.Background(), "recv", nop, otelguard.WithTracker(h2.tr), otelguard.WithTracker(h1.tr))
	_ = g.Run()
	h1.one(t, "recv")
	if n := len(h2.ended("recv")); n != 0 {
		t.Errorf("WithTracker overrode the receiver")
	}
}

func TestNilGuardIsInert(t *testing.T) {
	var g *otelguard.Guard
	if err := g.Run(); err != nil {
		t.Error(err)
	}
	if g.Disarm() {
		t.Error("nil Disarm = true")
	}
	// Run on a nil guard during a panic still lets the panic go on.
	got := func() (v any) {
		defer func() { v = recover() }()
		defer g.Run()
		panic("p")
	}()
	if got != "p" {
		t.Errorf("recovered %v", got)
	}
}

func TestGuardLeakStackNamesAcquirer(t *testing.T) {
	h := newHarness(t)
	g := acquireGuardHere(h.tr)
	//otelguard:handoff the guard only puts a lifetime in Live(); its cleanup is not meant to run
	defer g.Disarm()
	live := h.tr.Live()
	if len(live) != 1 {
		t.Fatalf("Live = %v", live)
	}
	st := live[0].Stack
	first := strings.SplitN(st, "\n", 2)[0]
	if !strings.HasSuffix(first, ".acquireGuardHere(...)") {
		t.Fatalf("first frame %q, want acquireGuardHere; stack:\n%s", first, st)
	}
}

//go:noinline
func acquireGuardHere(tr *otelguard.Tracker) *otelguard.Guard {
	return otelguard.NewGuard(context.Background(), "here", nop, otelguard.WithTracker(tr))
}
