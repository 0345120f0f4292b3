package otelguard_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
)

type orderLog struct {
	mu  sync.Mutex
	seq []string
}

func (o *orderLog) add(s string) {
	o.mu.Lock()
	o.seq = append(o.seq, s)
	o.mu.Unlock()
}

func (o *orderLog) cleanup(name string, err error) func(context.Context) error {
	return func(context.Context) error { o.add(name); return err }
}

type foreign struct {
	log  *orderLog
	name string
	err  error
}

func (f foreign) Close(context.Context) error { f.log.add(f.name); return f.err }

func TestScopeClosesNewestFirstAndJoinsErrors(t *testing.T) {
	h := newHarness(t)
	var log orderLog
	e1, e3 := errors.New("first"), errors.New("third")
	sc := otelguard.NewScope(context.Background(), "request", otelguard.WithTracker(h.tr))
	sc.Defer("m1", log.cleanup("m1", e1))
	sc.Add(foreign{&log, "f2", nil})
	r := otelguard.Acquire(context.Background(), "r3", 0, func(context.Context, int) error { log.add("r3"); return e3 }, otelguard.WithTracker(h.tr))
	sc.Add(r)
	sc.Defer("m4", log.cleanup("m4", nil))

	err := sc.Close(context.Background())
	if want := []string{"m4", "r3", "f2", "m1"}; !slices.Equal(log.seq, want) {
		t.Fatalf("order %v, want %v", log.seq, want)
	}
	if !errors.Is(err, e1) || !errors.Is(err, e3) {
		t.Fatalf("Close = %v, want both errors joined", err)
	}
	scope := h.one(t, "request")
	a := wantEnd(t, scope, otelguard.OutcomeFailed, otelguard.TriggerClose)
	if a[attrkey.Kind].AsString() != "scope" {
		t.Errorf("kind %v", a[attrkey.Kind])
	}
	for _, n := range []string{"m1", "m4"} {
		m := h.one(t, n)
		if m.Parent().SpanID() != scope.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the scope span", n)
		}
		if attrs(m)[attrkey.Kind].AsString() != "guard" {
			t.Errorf("%s kind %v", n, attrs(m)[attrkey.Kind])
		}
	}
	wantEnd(t, h.one(t, "m4"), otelguard.OutcomeCleaned, otelguard.TriggerScope)
	wantEnd(t, h.one(t, "m1"), otelguard.OutcomeFailed, otelguard.TriggerScope)
	wantEnd(t, h.one(t, "r3"), otelguard.OutcomeFailed, otelguard.TriggerScope)
	if err := sc.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if n := len(h.tr.Live()); n != 0 {
		t.Fatalf("Live = %d", n)
	}
}

func TestScopeMemberClosedElsewhereIsNotAnError(t *testing.T) {
	h := newHarness(t)
	sc := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(h.tr))
	r := otelguard.Acquire(context.Background(), "r", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
	sc.Add(r)
	sc.Add(closerFunc(func(context.Context) error { return otelguard.ErrClosed }))
	_ = r.Close(context.Background())
	if err := sc.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	wantEnd(t, h.one(t, "s"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantEnd(t, h.one(t, "r"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
}

type closerFunc func(context.Context) error

func (f closerFunc) Close(ctx context.Context) error { return f(ctx) }

func TestScopeDisarm(t *testing.T) {
	h := newHarness(t)
	var log orderLog
	sc := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(h.tr))
	sc.Defer("m", log.cleanup("m", nil))
	sc.Add(foreign{&log, "f", nil})
	r := otelguard.Acquire(context.Background(), "r", 0, func(context.Context, int) error { log.add("r"); return nil }, otelguard.WithTracker(h.tr))
	sc.Add(r)
	sc.Disarm()
	sc.Disarm()
	if len(log.seq) != 0 {
		t.Fatalf("Disarm released %v", log.seq)
	}
	for _, n := range []string{"s", "m"} {
		wantEnd(t, h.one(t, n), otelguard.OutcomeDisarmed, otelguard.TriggerDisarm)
	}
	if err := sc.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
		t.Fatalf("Close after Disarm = %v", err)
	}
	// The Resource was handed back: still open, released by its own Close.
	if n := len(h.ended("r")); n != 0 {
		t.Fatalf("the handed-back resource's span ended at Disarm")
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantEnd(t, h.one(t, "r"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	if want := []string{"r"}; !slices.Equal(log.seq, want) { // the foreign closer was dropped
		t.Fatalf("released %v, want %v", log.seq, want)
	}
}

func TestScopeKeepsClosingPastAPanic(t *testing.T) {
	h := newHarness(t)
	var log orderLog
	sc := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(h.tr))
	sc.Defer("a", log.cleanup("a", nil))
	sc.Defer("b", func(context.Context) error { panic("member panic") })
	sc.Add(closerFunc(func(context.Context) error { panic("foreign panic") }))
	sc.Defer("d", log.cleanup("d", nil))
	got := func() (v any) {
		defer func() { v = recover() }()
		_ = sc.Close(context.Background())
		return nil
	}()
	if got != "foreign panic" {
		t.Fatalf("recovered %v, want the first panic (newest member)", got)
	}
	if want := []string{"d", "a"}; !slices.Equal(log.seq, want) {
		t.Fatalf("closed %v, want %v", log.seq, want)
	}
	wantEnd(t, h.one(t, "b"), otelguard.OutcomeFailed, otelguard.TriggerScope)
	wantEnd(t, h.one(t, "s"), otelguard.OutcomeFailed, otelguard.TriggerClose)
}

func TestScopeDeferAfterCloseRunsAtOnce(t *testing.T) {
	h := newHarness(t)
	sc := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(h.tr))
	_ = sc.Close(context.Background())
	ran := false
	sc.Defer("late", func(context.Context) error { ran = true; return nil })
	if !ran {
		t.Fatal("Defer on a closed scope did not run the cleanup")
	}
	var fl orderLog
	sc.Add(foreign{&fl, "late-closer", nil})
	if len(fl.seq) != 1 {
		t.Fatal("Add on a closed scope did not close")
	}
	wantEnd(t, h.one(t, "late"), otelguard.OutcomeCleaned, otelguard.TriggerScope)
	m := h.one(t, attrkey.MisuseSpan)
	if attrs(m)[attrkey.MisuseKind].AsString() != "add_after_close" {
		t.Errorf("misuse %v", m.Attributes())
	}
}

// Scope.Close runs its members where it is called, each with the ctx given
// to Close: a member that honours its ctx returns at the deadline, the
// members after it get the ctx detached (it is done by then) and still
// close, in order, and Close returns when the last one has; the scope's
// joined error wraps DeadlineExceeded, so it ends timed_out.
func TestScopeCloseRunsWhereCalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		var log orderLog
		sc := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(h.tr))
		sc.Defer("conn", log.cleanup("conn", nil))
		sc.Defer("slow", func(ctx context.Context) error { <-ctx.Done(); log.add("slow"); return ctx.Err() })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := sc.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Close returned after %v, want 1s", d)
		}
		if want := []string{"slow", "conn"}; !slices.Equal(log.seq, want) {
			t.Fatalf("closed %v, want %v", log.seq, want)
		}
		wantEnd(t, h.one(t, "s"), otelguard.OutcomeTimedOut, otelguard.TriggerClose)
		wantEnd(t, h.one(t, "slow"), otelguard.OutcomeTimedOut, otelguard.TriggerScope)
		a := wantEnd(t, h.one(t, "conn"), otelguard.OutcomeCleaned, otelguard.TriggerScope)
		if !a[attrkey.CleanupDetached].AsBool() {
			t.Error("member closed after the deadline was not detached")
		}
	})
}

// A member whose release calls runtime.Goexit (t.FailNow in a test
// cleanup) cannot stop the scope: its older members are still released,
// every lifetime ends exactly once, and then the Goexit goes on. (Before
// the v1 contract the older members were left with no owner and never
// ended.)
func TestScopeMemberGoexitStillReleasesOlderMembers(t *testing.T) {
	h := newHarness(t)
	var log orderLog
	sc := otelguard.NewScope(context.Background(), "s", otelguard.WithTracker(h.tr))
	sc.Defer("oldest", log.cleanup("oldest", nil))
	r := otelguard.Acquire(context.Background(), "res", 0, func(context.Context, int) error { log.add("res"); return nil }, otelguard.WithTracker(h.tr))
	sc.Add(r)
	sc.Defer("exits", func(context.Context) error { runtimeGoexit(); return nil })
	sc.Defer("exits-too", func(context.Context) error { runtimeGoexit(); return nil })
	sc.Defer("newest", log.cleanup("newest", nil))
	done := make(chan bool, 1)
	go func() {
		defer func() { done <- false }()
		_ = sc.Close(context.Background())
		done <- true
	}()
	if <-done {
		t.Fatal("Close returned although a member called Goexit")
	}
	if want := []string{"newest", "res", "oldest"}; !slices.Equal(log.seq, want) {
		t.Fatalf("released %v, want %v", log.seq, want)
	}
	for _, n := range []string{"exits", "exits-too"} {
		wantEnd(t, h.one(t, n), otelguard.OutcomeFailed, otelguard.TriggerScope)
	}
	for _, n := range []string{"newest", "res", "oldest"} {
		wantEnd(t, h.one(t, n), otelguard.OutcomeCleaned, otelguard.TriggerScope)
	}
	wantEnd(t, h.one(t, "s"), otelguard.OutcomeFailed, otelguard.TriggerClose)
	if live := h.tr.Live(); len(live) != 0 {
		t.Fatalf("Live = %+v", live)
	}
}

func TestNestedScope(t *testing.T) {
	h := newHarness(t)
	var log orderLog
	outer := otelguard.NewScope(context.Background(), "outer", otelguard.WithTracker(h.tr))
	inner := otelguard.NewScope(context.Background(), "inner", otelguard.WithTracker(h.tr))
	inner.Defer("i", log.cleanup("i", nil))
	outer.Add(inner)
	outer.Defer("o", log.cleanup("o", nil))
	if err := outer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"o", "i"}; !slices.Equal(log.seq, want) {
		t.Fatalf("order %v", log.seq)
	}
	wantEnd(t, h.one(t, "inner"), otelguard.OutcomeCleaned, otelguard.TriggerScope)
}
