package otelguard_test

// Hard to hold wrong (issue 12): the Tracker travels in the context,
// reports name the real caller, a leak is found even in an idle process,
// the handles are consistent.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The package-level functions use, in order: WithTracker, the Tracker in
// ctx, Default(). Parallel tests each with their own Tracker in ctx see
// only their own lifetimes.
func TestTrackerInContext(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := otelguard.ContextWithTracker(context.Background(), h.tr)
			if got := otelguard.TrackerFrom(ctx); got != h.tr {
				t.Fatalf("TrackerFrom = %p, want %p", got, h.tr)
			}
			r := otelguard.Acquire(ctx, "r", i, func(context.Context, int) error { return nil })
			g := otelguard.NewGuard(ctx, "g", nop)
			sc := otelguard.NewScope(ctx, "s")
			tk := otelguard.Track(ctx, "t", closer{})
			if n := len(h.tr.Live()); n != 4 {
				t.Fatalf("Live = %d, want the 4 lifetimes acquired with ctx", n)
			}
			// A derived context carries it too.
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			g2 := otelguard.NewGuard(child, "g2", nop)
			if n := len(h.tr.Live()); n != 5 {
				t.Fatalf("Live = %d after acquiring with a derived ctx", n)
			}
			_ = r.Close(ctx)
			_ = g.Run()
			_ = sc.Close(ctx)
			_ = tk.Close(ctx)
			_ = g2.Run()
			if n := len(h.rec.Ended()); n != 5 {
				t.Fatalf("%d spans, want 5", n)
			}
		})
	}
}

type closer struct{}

func (closer) Close() error { return nil }

// WithTracker wins over the context's Tracker; a Tracker method's
// receiver wins over both.
func TestTrackerChoiceOrder(t *testing.T) {
	inCtx, named, recv := newHarness(t), newHarness(t), newHarness(t)
	ctx := otelguard.ContextWithTracker(context.Background(), inCtx.tr)
	g := otelguard.NewGuard(ctx, "named", nop, otelguard.WithTracker(named.tr))
	m := otelguard.NewGuard(ctx, "recv", nop, otelguard.WithTracker(named.tr), otelguard.WithTracker(recv.tr))
	if len(named.tr.Live()) != 1 || len(recv.tr.Live()) != 1 || len(inCtx.tr.Live()) != 0 {
		t.Fatalf("Live: ctx %d, named %d, receiver %d; want 0, 1, 1",
			len(inCtx.tr.Live()), len(named.tr.Live()), len(recv.tr.Live()))
	}
	g.Disarm()
	m.Disarm()
}

func TestContextWithTrackerBadInput(t *testing.T) {
	h := newHarness(t)
	if ctx := otelguard.ContextWithTracker(context.Background(), nil); otelguard.TrackerFrom(ctx) != nil {
		t.Fatal("a nil Tracker was put in the context")
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if ctx := otelguard.ContextWithTracker(nil, h.tr); otelguard.TrackerFrom(ctx) != h.tr { //nolint:staticcheck
		t.Fatal("a nil ctx did not become context.Background()")
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if otelguard.TrackerFrom(nil) != nil { //nolint:staticcheck
		t.Fatal("a nil ctx carries a Tracker")
	}
}

// trackRowsSkip is a helper that wraps Acquire, as users and the integrations
// do: with WithCallerSkip(1) the acquire stack starts at its caller.
//
//go:noinline
func trackRowsSkip(tr *otelguard.Tracker, skip int) *otelguard.Resource[int] {
	return otelguard.Acquire(context.Background(), "db.rows", 0, func(context.Context, int) error { return nil },
		otelguard.WithTracker(tr), otelguard.WithCallerSkip(skip))
}

//go:noinline
func queryUser(tr *otelguard.Tracker, skip int) *otelguard.Resource[int] {
	return trackRowsSkip(tr, skip)
}

func TestWithCallerSkipNamesTheHelpersCaller(t *testing.T) {
	h := newHarness(t)
	plain := queryUser(h.tr, 0)
	skipped := queryUser(h.tr, 1)
	negative := queryUser(h.tr, -3) // counts as zero
	live := h.tr.Live()
	first := func(l otelguard.LiveLifetime) string { return strings.SplitN(l.Stack, "(", 2)[0] }
	if got := first(live[0]); !strings.HasSuffix(got, ".trackRowsSkip") {
		t.Errorf("without skip the stack starts at %s, want the helper", got)
	}
	if got := first(live[1]); !strings.HasSuffix(got, ".queryUser") {
		t.Errorf("with WithCallerSkip(1) the stack starts at %s, want the helper's caller", got)
	}
	if got := first(live[2]); !strings.HasSuffix(got, ".trackRowsSkip") {
		t.Errorf("with WithCallerSkip(-3) the stack starts at %s, want the helper", got)
	}
	for _, r := range []*otelguard.Resource[int]{plain, skipped, negative} {
		_ = r.Close(context.Background())
	}
}

// Every handle has Name; a nil handle is inert.
func TestHandlesAreConsistent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	g := otelguard.NewGuard(ctx, "g", nop, otelguard.WithTracker(h.tr))
	r := otelguard.Acquire(ctx, "", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
	s := otelguard.NewScope(ctx, strings.Repeat("x", maxNameLength+10), otelguard.WithTracker(h.tr))
	if g.Name() != "g" || r.Name() != "otelguard.resource" || len(s.Name()) != maxNameLength || !strings.HasSuffix(s.Name(), "...") {
		t.Fatalf("names %q %q %q", g.Name(), r.Name(), s.Name())
	}
	g.Disarm()
	_ = r.Close(ctx)
	s.Disarm()

	var ng *otelguard.Guard
	var nr *otelguard.Resource[int]
	var ns *otelguard.Scope
	if ng.Name() != "" || ng.Run() != nil || ng.Disarm() {
		t.Error("nil Guard not inert")
	}
	if nr.Name() != "" || nr.Value() != 0 || nr.Detach() != 0 || !errors.Is(nr.Close(ctx), otelguard.ErrClosed) || !errors.Is(<-nr.CloseAsync(ctx), otelguard.ErrClosed) {
		t.Error("nil Resource not inert")
	}
	if ns.Name() != "" || !errors.Is(ns.Close(ctx), otelguard.ErrClosed) {
		t.Error("nil Scope not inert")
	}
	ns.Disarm()
	for name, f := range map[string]func(){
		"Defer": func() { ns.Defer("x", nop) },
		"Add":   func() { ns.Add(r) },
	} {
		if v := recoverValue(f); v == nil || !strings.HasPrefix(fmt.Sprint(v), "otelguard: Scope."+name+" called on a nil *Scope") {
			t.Errorf("nil Scope.%s: panic %v", name, v)
		}
	}
}

// ---------------------------------------------------------------------------
// A leak in an idle process

const idleEnv = "OTELGUARD_IDLE_CHILD"

//go:noinline
func dropIdle(tr *otelguard.Tracker) {
	//otelguard:handoff dropped on purpose: the idle child's leak to find
	otelguard.Acquire(context.Background(), "idle.conn", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(tr))
}

// TestIdleChild runs in a child process: it drops a handle and then
// allocates nothing, so the runtime never collects; the Tracker's leak
// check must. It prints how long the leak took to be reported and how
// many collections the process ran.
func TestIdleChild(t *testing.T) {
	if os.Getenv(idleEnv) == "" {
		t.Skip("run by TestLeakFoundInAnIdleProcess")
	}
	setting, wait, _ := strings.Cut(os.Getenv(idleEnv), ",")
	interval, _ := time.ParseDuration(setting)
	bound, _ := time.ParseDuration(wait)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithLeakCheckInterval(interval))
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	dropIdle(tr)
	for bridge.LeakCount(tr) == 0 {
		if time.Since(start) > bound {
			t.Fatalf("no leak found after %v (%d collections)", time.Since(start).Round(time.Millisecond), numGC()-before.NumGC)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("found after %v with %d collections\n", time.Since(start).Round(time.Millisecond), numGC()-before.NumGC)
}

func numGC() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

// A leak in a process that allocates nothing (an idle server waiting on an
// exhausted pool) is found within about two leak-check intervals: the
// Tracker runs the collection the runtime would not. (The runtime runs no
// periodic collection before a first one: such a process never found it.)
// Without the check, the same child finds nothing in that time.
func TestLeakFoundInAnIdleProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	const interval = 200 * time.Millisecond
	const bound = 20 * interval // what the child waits at most
	run := func(setting time.Duration) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), idleEnv+"="+setting.String()+","+bound.String(), "GOGC=100", "GORACE=atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(interval)
	if err != nil || !strings.Contains(out, "found after") {
		t.Fatalf("with the check: %v\n%s", err, out)
	}
	after := strings.TrimSpace(strings.Split(out, "found after")[1])
	t.Logf("with a %v check: %s", interval, after)
	// The promise is about two intervals (the timer's first interval, then
	// one more if a collection happened to run meanwhile); five leaves
	// room for a loaded machine without letting "never" pass.
	var found time.Duration
	if d, err := time.ParseDuration(strings.Fields(after)[0]); err == nil {
		found = d
	}
	if found <= 0 || found > 5*interval {
		t.Fatalf("with a %v check the leak was found after %s: want within about two intervals (at most five)", interval, after)
	}
	out, err = run(-1)
	if err == nil || !strings.Contains(out, "no leak found after") {
		t.Fatalf("without the check the leak was found anyway, so this child proves nothing: %v\n%s", err, out)
	}
}

// viaLibrary stands for a library's code between the user's call and the
// acquire: two frames of a package of its own (here, this test package).
//
//go:noinline
func viaLibrary(tr *otelguard.Tracker, pkgs ...string) *otelguard.Resource[int] {
	return viaLibraryInner(tr, pkgs...)
}

//go:noinline
func viaLibraryInner(tr *otelguard.Tracker, pkgs ...string) *otelguard.Resource[int] {
	return otelguard.Acquire(context.Background(), "lib.res", 0, func(context.Context, int) error { return nil },
		otelguard.WithTracker(tr), otelguard.WithCallerSkipPackages(pkgs...))
}

// WithCallerSkipPackages drops the leading frames of the named packages:
// the stack starts at the first frame outside them. Here the library
// and its caller share a package, so naming it drops both and starts at
// the testing package; naming another package drops nothing.
func TestWithCallerSkipPackages(t *testing.T) {
	h := newHarness(t)
	skipped := viaLibrary(h.tr, "github.com/otelguard/otelguard-go/otelguard_test")
	kept := viaLibrary(h.tr, "net/http")
	live := h.tr.Live()
	first := func(l otelguard.LiveLifetime) string { return strings.SplitN(l.Stack, "(", 2)[0] }
	if got := first(live[0]); got != "testing.tRunner" {
		t.Errorf("skipping this package, the stack starts at %s, want testing.tRunner", got)
	}
	if got := first(live[1]); !strings.HasSuffix(got, ".viaLibraryInner") {
		t.Errorf("skipping another package, the stack starts at %s, want viaLibraryInner", got)
	}
	_ = skipped.Close(context.Background())
	_ = kept.Close(context.Background())
}

// Two WithCallerSkipPackages add up, and the packages given are only read:
// a caller's slice with room to spare is not written to.
func TestWithCallerSkipPackagesAddUp(t *testing.T) {
	h := newHarness(t)
	pkgs := make([]string, 1, 4)
	pkgs[0] = "net/http"
	r := otelguard.Acquire(context.Background(), "lib.res", 0, func(context.Context, int) error { return nil },
		otelguard.WithTracker(h.tr), otelguard.WithCallerSkipPackages(pkgs...),
		otelguard.WithCallerSkipPackages("github.com/otelguard/otelguard-go/otelguard_test"))
	defer r.Close(context.Background())
	if got := strings.SplitN(h.tr.Live()[0].Stack, "(", 2)[0]; got != "testing.tRunner" {
		t.Errorf("skipping net/http and this package, the stack starts at %s, want testing.tRunner", got)
	}
	if spare := pkgs[:2][1]; spare != "" {
		t.Errorf("the caller's slice was written to: %q", spare)
	}
}

// A release learns what started it.
func TestReleaseTrigger(t *testing.T) {
	h := newHarness(t)
	var got []otelguard.Trigger
	rel := func(ctx context.Context, _ int) error {
		tg, ok := otelguard.ReleaseTrigger(ctx)
		if !ok {
			t.Error("ReleaseTrigger: not in a release")
		}
		got = append(got, tg)
		return nil
	}
	_ = otelguard.Acquire(context.Background(), "a", 0, rel, otelguard.WithTracker(h.tr)).Close(context.Background())
	_ = otelguard.Acquire(context.Background(), "b", 0, rel, otelguard.WithTracker(h.tr))
	if err := h.tr.CloseAll(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	if _, ok := otelguard.ReleaseTrigger(context.Background()); ok {
		t.Error("ReleaseTrigger outside a release says ok")
	}
	if len(got) != 2 || got[0] != otelguard.TriggerClose || got[1] != otelguard.TriggerShutdown {
		t.Fatalf("triggers %v, want close then shutdown", got)
	}
}
