package otelguard_test

// A panic keeps its stack; a Goexit anywhere still ends the lifetime and
// records what happened. Each test here failed on v1.

import (
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
)

//go:noinline
func buggyRelease(context.Context, int) error { panic("buggy release") }

// stackAtRecover runs f and returns the panic's value and the stack seen
// by the deferred recover: a deferred call runs on top of the frames of
// the function that panicked, unless something recovered and re-panicked
// further up.
func stackAtRecover(f func()) (v any, stack string) {
	defer func() {
		v = recover()
		stack = string(debug.Stack())
	}()
	f()
	return nil, ""
}

// A release that panics under Close, Scope.Close or Guard.Run: the panic
// reaches the caller with the panicking function still on the stack (v1
// recovered it and re-panicked from otelguard's frame, so the crash named
// handle.go, not the buggy release). The lifetime still ends failed.
func TestPanicInAReleaseKeepsItsStack(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*harness)
	}{
		{"Resource.Close", func(h *harness) {
			_ = otelguard.Acquire(context.Background(), "r", 0, buggyRelease, otelguard.WithTracker(h.tr)).Close(context.Background())
		}},
		{"Scope.Close", func(h *harness) {
			sc := otelguard.NewScope(context.Background(), "r", otelguard.WithTracker(h.tr))
			sc.Add(otelguard.Acquire(context.Background(), "member", 0, buggyRelease, otelguard.WithTracker(h.tr)))
			_ = sc.Close(context.Background())
		}},
		{"Guard.Run", func(h *harness) {
			_ = otelguard.NewGuard(context.Background(), "r", func(ctx context.Context) error { return buggyRelease(ctx, 0) }, otelguard.WithTracker(h.tr)).Run()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			v, stack := stackAtRecover(func() { tc.run(h) })
			if v != "buggy release" {
				t.Fatalf("recovered %v, want the release's panic", v)
			}
			if !containsFunc(stack, "buggyRelease") {
				t.Fatalf("the panic's stack lost the function that panicked:\n%s", stack)
			}
			for _, s := range h.rec.Ended() {
				if a := attrs(s); a["otelguard.outcome"].AsString() != string(otelguard.OutcomeFailed) {
					t.Errorf("%s ended %v, want failed", s.Name(), a["otelguard.outcome"].AsString())
				}
			}
			if len(h.rec.Ended()) == 0 {
				t.Fatal("no lifetime ended")
			}
		})
	}
}

// A ReleaseOnLeak release that calls runtime.Goexit (t.FailNow in a test
// helper): the leak is still recorded (v1: the span said leaked, but the
// leak never reached the record otelguardtest reads).
func TestGoexitInAReleaseOnLeakReleaseStillRecordsTheLeak(t *testing.T) {
	h := newHarness(t)
	dropGoexiting(h.tr)
	collectLeaks(t, h.tr, 1)
	if ls := bridge.Leaks(h.tr); len(ls) != 1 || ls[0].Name != "goexits" || !ls[0].Released {
		t.Fatalf("leak records = %+v", ls)
	}
	wantEnd(t, h.one(t, "goexits"), otelguard.OutcomeLeaked, otelguard.TriggerGC)
}

//go:noinline
func dropGoexiting(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose
	otelguard.Acquire(context.Background(), "goexits", 0, func(context.Context, int) error {
		runtime.Goexit()
		return nil
	}, otelguard.WithTracker(tr), otelguard.ReleaseOnLeak())
}

// A Goexit in a member's release under Scope.Close: the older members are
// still released, the scope's span still ends, and the Goexit goes on.
func TestGoexitInAScopeMemberStillClosesTheOlderOnes(t *testing.T) {
	h := newHarness(t)
	olderRan := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := otelguard.NewScope(context.Background(), "scope", otelguard.WithTracker(h.tr))
		sc.Defer("older", func(context.Context) error { olderRan = true; return nil })
		sc.Defer("goexits", func(context.Context) error { runtime.Goexit(); return nil })
		_ = sc.Close(context.Background())
		t.Error("Close returned: the Goexit did not go on")
	}()
	<-done
	if !olderRan {
		t.Fatal("the older member was not released")
	}
	wantEnd(t, h.one(t, "older"), otelguard.OutcomeCleaned, otelguard.TriggerScope)
	wantEnd(t, h.one(t, "goexits"), otelguard.OutcomeFailed, otelguard.TriggerScope)
	if got := attrs(h.one(t, "scope"))["otelguard.outcome"].AsString(); got != string(otelguard.OutcomeFailed) {
		t.Fatalf("scope ended %q", got)
	}
	if !strings.Contains(h.one(t, "goexits").Status().Description, "runtime.Goexit") {
		t.Errorf("status %q", h.one(t, "goexits").Status().Description)
	}
}
