package otelguard_test

// Stress (issue 7, part 1) and leak-detection correctness (part 4).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"
)

// A stress path ends (or tries to end) a lifetime.
type stPath uint8

const (
	pClose       stPath = iota // Resource.Close
	pAsync                     // Resource.CloseAsync
	pDetach                    // Resource.Detach
	pCancel                    // cancel the CloseOnCancel acquire ctx
	pRun                       // Guard.Run
	pPanicRun                  // Guard.Run deferred while a panic unwinds
	pDisarm                    // Guard.Disarm
	pScopeClose                // Scope.Close
	pScopeDisarm               // Scope.Disarm
	pGC                        // the handle is dropped: leak detection
	pNone                      // nothing: left to CloseAll / Shutdown
)

var stPathNames = [...]string{"close", "async", "detach", "cancel", "run", "panicrun", "disarm", "sclose", "sdisarm", "gc", "none"}

// stTriggers are the triggers a path may end a lifetime with. kind is the
// lifetime's (see stLife); member says the path is its scope's.
func stTriggers(p stPath, member bool, kind byte) []otelguard.Trigger {
	if member { // a scope member ended by its scope's path
		switch p {
		case pScopeClose:
			return []otelguard.Trigger{otelguard.TriggerScope}
		case pScopeDisarm:
			if kind == 'm' { // a Defer'd guard ends disarmed; an added Resource is handed back
				return []otelguard.Trigger{otelguard.TriggerDisarm}
			}
		case pGC:
			return []otelguard.Trigger{otelguard.TriggerGC}
		}
		return nil
	}
	switch p {
	case pClose, pAsync, pScopeClose:
		return []otelguard.Trigger{otelguard.TriggerClose}
	case pDetach, pDisarm, pScopeDisarm:
		return []otelguard.Trigger{otelguard.TriggerDisarm}
	case pCancel:
		return []otelguard.Trigger{otelguard.TriggerCancel}
	case pRun:
		return []otelguard.Trigger{otelguard.TriggerDefer}
	case pPanicRun:
		return []otelguard.Trigger{otelguard.TriggerPanic}
	case pGC:
		return []otelguard.Trigger{otelguard.TriggerGC}
	}
	return nil
}

// stLife is the bookkeeping of one lifetime. It never references the
// handle, so that dropped handles can be found by leak detection.
type stLife struct {
	name          string
	id            int
	kind          byte // 'r' resource, 'g' guard, 's' scope, 'm' member guard of a scope
	mode          int  // 0 release succeeds, 1 returns an error, 2 panics
	paths         []stPath
	member        bool // ended through its scope's paths
	watch         bool // CloseOnCancel
	releaseOnLeak bool

	runs      atomic.Int32 // times the release ran
	disarmWon atomic.Bool  // a Disarm returned true
	closeRan  atomic.Bool  // a Close/CloseAsync call ran the release (did not get ErrClosed)
}

// handedToContext says the lifetime's handle was dropped while CloseOnCancel
// owned its release: not a leak, released when its context is done.
func (l *stLife) handedToContext() bool {
	return l.watch && slices.Contains(l.paths, pGC)
}

var errStress = errors.New("stress: release failed")

type stPanic struct{ name string }

func (l *stLife) release() error {
	l.runs.Add(1)
	switch l.mode {
	case 1:
		return errStress
	case 2:
		panic(stPanic{l.name})
	}
	return nil
}

func stRelease(_ context.Context, l *stLife) error { return l.release() }

// stCounter is a foreign scope member counting the scope's releases.
type stCounter struct{ l *stLife }

func (c stCounter) Close(context.Context) error { return c.l.release() }

// stCatch runs f, swallowing the panics a stress release may raise (and the
// one a panicking Run deliberately raises).
func stCatch(f func()) {
	defer func() {
		if r := recover(); r != nil {
			switch r.(type) {
			case stPanic, *otelguard.PanicError:
			default:
				panic(r)
			}
		}
	}()
	f()
}

// stress is the state of one stress run.
type stress struct {
	t       *testing.T
	tr      *otelguard.Tracker
	mu      sync.Mutex
	lives   []*stLife
	cancels []context.CancelFunc // CloseOnCancel contexts of dropped handles, cancelled at the end
	keep    []any                // handles that must not be collected before the end
	ticks   [2]chan struct{}     // wake the CloseAll and the Flush loopers
}

func (s *stress) newLife(kind byte, paths []stPath, i int) *stLife {
	l := &stLife{kind: kind, paths: paths, id: i}
	l.name = fmt.Sprintf("%c%d", kind, i)
	for _, p := range paths {
		l.watch = l.watch || (p == pCancel && kind == 'r')
	}
	if slices.Contains(paths, pGC) && !l.watch { // the end of the stress waits for these by name
		l.name = "gc" + l.name
	}
	s.mu.Lock()
	s.lives = append(s.lives, l)
	s.mu.Unlock()
	return l
}

func (s *stress) keepAlive(h any) {
	s.mu.Lock()
	s.keep = append(s.keep, h)
	s.mu.Unlock()
}

func (s *stress) opts(l *stLife, ctx context.Context) []otelguard.AcquireOption {
	o := []otelguard.AcquireOption{otelguard.WithTracker(s.tr), otelguard.WithAttributes(attribute.Int("id", l.id))}
	if l.watch {
		o = append(o, otelguard.CloseOnCancel())
	}
	if l.releaseOnLeak {
		o = append(o, otelguard.ReleaseOnLeak())
	}
	return o
}

// race runs the ops at once, each on its own goroutine, released together.
func race(ops ...func()) {
	if len(ops) == 1 {
		ops[0]()
		return
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() { <-start; op() })
	}
	close(start)
	wg.Wait()
}

func (l *stLife) close(err error) {
	if !errors.Is(err, otelguard.ErrClosed) {
		l.closeRan.Store(true)
	}
}

// resource acquires a resource and ends it by its paths, at once.
func (s *stress) resource(i int, mode int, paths ...stPath) {
	l := s.newLife('r', paths, i)
	l.mode = mode
	ctx, cancel := context.WithCancel(context.Background())
	if paths[0] == pGC {
		l.releaseOnLeak = (i/24)%2 == 0
		s.dropResource(ctx, l)
		if l.watch { // the context owns the release: cancelled at the end
			s.mu.Lock()
			s.cancels = append(s.cancels, cancel)
			s.mu.Unlock()
		} else {
			cancel()
		}
		return
	}
	defer cancel()
	r := otelguard.Acquire(ctx, l.name, l, stRelease, s.opts(l, ctx)...)
	if l.watch || paths[0] == pNone {
		// Keep the handle: a CloseOnCancel release ends after this returns,
		// and pNone is left for CloseAll and Shutdown; neither may look leaked.
		s.keepAlive(r)
	}
	var ops []func()
	for _, p := range paths {
		switch p {
		case pClose:
			ops = append(ops, func() {
				stCatch(func() {
					ran := true
					defer func() {
						if ran { // returned its release's result, or re-panicked its panic
							l.closeRan.Store(true)
						}
					}()
					if errors.Is(r.Close(context.Background()), otelguard.ErrClosed) {
						ran = false
					}
				})
			})
		case pAsync:
			ops = append(ops, func() { l.close(<-r.CloseAsync(context.Background())) })
		case pDetach:
			ops = append(ops, func() { _ = r.Detach() })
		case pCancel:
			ops = append(ops, cancel)
		}
	}
	race(ops...)
}

//go:noinline
func (s *stress) dropResource(ctx context.Context, l *stLife) {
	otelguard.Acquire(ctx, l.name, l, stRelease, s.opts(l, ctx)...)
}

// guard makes a guard and ends it by its paths, at once.
func (s *stress) guard(i int, mode int, paths ...stPath) {
	l := s.newLife('g', paths, i)
	l.mode = mode
	if paths[0] == pGC {
		s.dropGuard(l)
		return
	}
	//otelguard:handoff ended by the closures that race its paths below (paths is never empty), or kept alive
	g := otelguard.NewGuard(context.Background(), l.name, func(context.Context) error { return l.release() }, append(s.opts(l, nil), otelguard.WithTracker(s.tr))...)
	if paths[0] == pNone {
		s.keepAlive(g)
	}
	var ops []func()
	for _, p := range paths {
		switch p {
		case pRun:
			ops = append(ops, func() { stCatch(func() { _ = g.Run() }) })
		case pPanicRun:
			ops = append(ops, func() {
				stCatch(func() {
					defer g.Run()
					panic(stPanic{"deliberate"})
				})
			})
		case pDisarm:
			ops = append(ops, func() {
				if g.Disarm() {
					l.disarmWon.Store(true)
				}
			})
		}
	}
	race(ops...)
}

//go:noinline
func (s *stress) dropGuard(l *stLife) {
	//otelguard:handoff dropped on purpose: the stress test's GC path
	otelguard.NewGuard(context.Background(), l.name, func(context.Context) error { return l.release() }, append(s.opts(l, nil), otelguard.WithTracker(s.tr))...)
}

// scope makes a scope with three members (a Defer'd guard, a resource, and
// a foreign closer counting the scope's releases) and ends it by its paths,
// at once. memberPath, if any, races a direct end of the resource member.
func (s *stress) scope(i int, paths []stPath, memberPath stPath) {
	l := s.newLife('s', paths, i)
	m := s.newLife('m', paths, i)
	m.member = true
	rl := s.newLife('r', append([]stPath{memberPath}, paths...), i)
	rl.member = true
	if paths[0] == pGC {
		s.dropScope(l, m, rl)
		return
	}
	//otelguard:handoff ended by the closures that race its paths below (paths is never empty)
	sc := otelguard.NewScope(context.Background(), l.name, append(s.opts(l, nil), otelguard.WithTracker(s.tr))...)
	sc.Add(stCounter{l})
	r := otelguard.Acquire(context.Background(), rl.name, rl, stRelease, s.opts(rl, nil)...)
	sc.Add(r)
	sc.Defer(m.name, func(context.Context) error { return m.release() })
	if slices.Contains(paths, pScopeDisarm) {
		// Disarm hands the resource back: the caller owns it again, and
		// the final CloseAll (or Shutdown) ends it.
		s.keepAlive(r)
	}
	var ops []func()
	for _, p := range paths {
		switch p {
		case pScopeClose:
			ops = append(ops, func() { stCatch(func() { _ = sc.Close(context.Background()) }) })
		case pScopeDisarm:
			ops = append(ops, sc.Disarm)
		}
	}
	switch memberPath {
	case pClose:
		ops = append(ops, func() { rl.close(r.Close(context.Background())) })
	case pDetach:
		ops = append(ops, func() { _ = r.Detach() })
	}
	race(ops...)
}

//go:noinline
func (s *stress) dropScope(l, m, rl *stLife) {
	//otelguard:handoff dropped on purpose: the stress test's GC path
	sc := otelguard.NewScope(context.Background(), l.name, append(s.opts(l, nil), otelguard.WithTracker(s.tr))...)
	sc.Add(stCounter{l})
	sc.Add(otelguard.Acquire(context.Background(), rl.name, rl, stRelease, s.opts(rl, nil)...))
	sc.Defer(m.name, func(context.Context) error { return m.release() })
}

// one runs lifetime number i: its plan is chosen by i.
func (s *stress) one(i int) {
	mode := 0
	switch {
	case i%13 == 0:
		mode = 1
	case i%17 == 0:
		mode = 2
	}
	switch i % 24 {
	case 0:
		s.resource(i, mode, pClose)
	case 1:
		s.resource(i, mode, pAsync)
	case 2:
		s.resource(i, mode, pDetach)
	case 3:
		s.resource(i, mode, pCancel)
	case 4:
		s.resource(i, mode, pClose, pClose)
	case 5:
		s.resource(i, mode, pClose, pAsync)
	case 6:
		s.resource(i, mode, pClose, pDetach)
	case 7:
		s.resource(i, mode, pAsync, pDetach)
	case 8:
		s.resource(i, mode, pClose, pCancel)
	case 9:
		s.resource(i, mode, pDetach, pCancel)
	case 10:
		s.resource(i, mode, pGC)
	case 11:
		s.resource(i, mode, pGC, pCancel)
	case 12:
		s.guard(i, mode, pRun)
	case 13:
		s.guard(i, mode, pDisarm)
	case 14:
		s.guard(i, mode, pPanicRun)
	case 15:
		s.guard(i, mode, pRun, pDisarm)
	case 16:
		s.guard(i, mode, pPanicRun, pDisarm)
	case 17:
		s.guard(i, mode, pGC)
	case 18:
		s.scope(i, []stPath{pScopeClose}, pClose)
	case 19:
		s.scope(i, []stPath{pScopeDisarm}, pDetach)
	case 20:
		s.scope(i, []stPath{pScopeClose, pScopeDisarm}, pNone)
	case 21:
		s.scope(i, []stPath{pGC}, pNone)
	case 22:
		s.resource(i, mode, pNone) // only CloseAll / Shutdown end it
	case 23:
		s.guard(i, mode, pNone)
	}
	if i%397 == 0 {
		s.tick(0)
	}
	if i%401 == 0 {
		s.tick(1)
	}
}

func (s *stress) tick(n int) {
	select {
	case s.ticks[n] <- struct{}{}:
	default:
	}
}

// gcPending counts lifetimes of dropped handles not yet found (or found and
// waiting for their CloseOnCancel watch).
func (s *stress) gcPending() int {
	n := 0
	for _, l := range s.tr.Live() {
		if !l.Leaked && strings.Contains(l.Name, "gc") {
			n++
		}
	}
	return n
}

// TestStressEveryPathAtOnce: tens of thousands of lifetimes, on 32
// goroutines, ended by every path (Close, CloseAsync, Detach, Disarm, Run,
// Run during a panic, CloseOnCancel, Scope Close and Disarm, CloseAll,
// Shutdown, GC) and by two paths racing on the same lifetime, while CloseAll
// and Flush sweep the tracker from other goroutines (Shutdown, terminal,
// reports what is left at the end). Per lifetime: exactly
// one span; an outcome and trigger consistent with its paths and its release;
// the release run at most once, exactly once when the outcome says it ran,
// never when disarmed; every release that ran is accounted for. Goroutines
// return to the baseline.
func TestStressEveryPathAtOnce(t *testing.T) {
	n := 24 * 1250 // 30,000 planned lifetimes (+2 members per scope)
	if testing.Short() {
		n = 24 * 200
	}
	ignore := goleak.IgnoreCurrent()
	hd := captureHandled(t)
	h := newHarness(t, otelguard.WithMeterProvider(metricnoop.NewMeterProvider()))
	s := &stress{t: t, tr: h.tr, ticks: [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}}
	start := time.Now()

	stop := make(chan struct{})
	var loopers sync.WaitGroup
	var sweeps [2]atomic.Int32
	for k := range 2 {
		loopers.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-s.ticks[k]:
				}
				if k == 0 {
					_ = h.tr.CloseAll(boundedCtx())
				} else {
					_ = h.tr.Flush(boundedCtx())
				}
				sweeps[k].Add(1)
			}
		})
	}
	const workers = 32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				s.one(i)
				if i%503 == 0 {
					runtime.GC()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	loopers.Wait()

	// Find the dropped handles (bounded), then cancel the contexts that own
	// the releases of dropped CloseOnCancel handles, report what is left
	// open (Shutdown), release it (CloseAll), and wait.
	for i := 0; s.gcPending() > 0; i++ {
		if i == 500 {
			t.Fatalf("%d dropped handles never found by leak detection", s.gcPending())
		}
		runtime.GC()
		_ = h.tr.Flush(boundedCtx())
	}
	for _, c := range s.cancels {
		c()
	}
	_ = h.tr.Flush(boundedCtx())
	if err := h.tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	_ = h.tr.CloseAll(boundedCtx())
	if err := h.tr.Flush(boundedCtx()); err != nil {
		t.Fatal(err)
	}
	if live := h.tr.Live(); len(live) != 0 {
		t.Fatalf("%d lifetimes still open at the end, first %+v", len(live), live[0])
	}
	elapsed := time.Since(start)

	// Check every lifetime against its spans.
	spans := map[string][]sdktrace.ReadOnlySpan{}
	misuse := 0
	for _, sp := range h.rec.Ended() {
		if sp.Name() == attrkey.MisuseSpan {
			misuse++
			continue
		}
		spans[sp.Name()] = append(spans[sp.Name()], sp)
	}
	outcomes := map[string]int{}
	var runs, releasedSpans, lateRuns int
	for _, l := range s.lives {
		ss := spans[l.name]
		if len(ss) != 1 {
			t.Errorf("%s (%v): %d spans", l.name, l.pathNames(), len(ss))
			continue
		}
		a := attrs(ss[0])
		if !l.member || l.kind == 'r' {
			if id, ok := a["id"]; ok && id.AsInt64() != int64(l.id) {
				t.Errorf("%s: id attribute %d", l.name, id.AsInt64())
			}
		}
		o := otelguard.Outcome(a[attrkey.Outcome].AsString())
		tg := otelguard.Trigger(a[attrkey.Trigger].AsString())
		outcomes[string(o)+"/"+string(tg)]++
		r := int(l.runs.Load())
		runs += r
		if err := l.check(o, tg, r, a[attrkey.LeakReleased].AsBool()); err != nil {
			t.Errorf("%s (%v, mode %d): %v", l.name, l.pathNames(), l.mode, err)
		}
		switch o {
		case otelguard.OutcomeCleaned, otelguard.OutcomeFailed:
			releasedSpans++
		case otelguard.OutcomeLeaked:
			if r == 1 {
				lateRuns++
			}
		case otelguard.OutcomeOpenAtShutdown:
			lateRuns += r
		}
	}
	if runs != releasedSpans+lateRuns {
		t.Errorf("releases run %d != released spans %d + releases after an open_at_shutdown/leak report %d", runs, releasedSpans, lateRuns)
	}
	for _, err := range hd.all() {
		var pe *otelguard.PanicError
		if !errors.As(err, &pe) {
			t.Errorf("otel.Handle got %v", err)
		}
	}
	t.Logf("%d lifetimes (%d planned, %d workers) in %v; %d releases ran; %d CloseAll and %d Flush sweeps; %d misuse records; %d panics handled",
		len(s.lives), n, workers, elapsed.Round(time.Millisecond), runs, sweeps[0].Load(), sweeps[1].Load(), misuse, len(hd.all()))
	t.Logf("outcome/trigger: %v", outcomes)
	if t.Failed() {
		return
	}
	goleak.VerifyNone(t, ignore)
}

func (l *stLife) pathNames() []string {
	var out []string
	for _, p := range l.paths {
		out = append(out, stPathNames[p])
	}
	if l.member {
		out = append(out, "(member)")
	}
	return out
}

// check says whether an ended lifetime is consistent with its plan.
func (l *stLife) check(o otelguard.Outcome, tg otelguard.Trigger, runs int, leakReleased bool) error {
	if runs > 1 {
		return fmt.Errorf("release ran %d times", runs)
	}
	allowed := map[otelguard.Trigger]bool{otelguard.TriggerShutdown: true}
	if l.member {
		// Whatever releases the scope (its Close, or CloseAll reaching the
		// scope before the member) closes the member with trigger scope.
		allowed[otelguard.TriggerScope] = true
	}
	for j, p := range l.paths {
		// A scope's resource member lists its own path first, then its scope's.
		for _, tr := range stTriggers(p, l.member && (l.kind == 'm' || j > 0), l.kind) {
			allowed[tr] = true
		}
	}
	if !allowed[tg] {
		return fmt.Errorf("trigger %s, outcome %s: not one of its paths' triggers %v", tg, o, allowed)
	}
	nonReleasing := false // a path that may end the lifetime without its release
	for _, p := range l.paths {
		switch p {
		case pDetach, pDisarm, pGC:
			nonReleasing = true
		case pScopeDisarm:
			nonReleasing = nonReleasing || l.kind != 'r' // an added resource is handed back, and released later
		}
	}
	if l.handedToContext() {
		// Dropped, but its context owns the release: it runs at cancel (or
		// at a CloseAll first), never reported leaked.
		if o == otelguard.OutcomeLeaked || runs != 1 {
			return fmt.Errorf("handle dropped while its context owned the release: outcome %s, released %d times", o, runs)
		}
	}
	wantRel := otelguard.OutcomeCleaned
	if l.mode != 0 {
		wantRel = otelguard.OutcomeFailed
	}
	switch o {
	case otelguard.OutcomeCleaned, otelguard.OutcomeFailed:
		if o != wantRel {
			return fmt.Errorf("outcome %s, want %s for release mode %d", o, wantRel, l.mode)
		}
		if runs != 1 {
			return fmt.Errorf("outcome %s but the release ran %d times", o, runs)
		}
		if tg == otelguard.TriggerDisarm || tg == otelguard.TriggerGC {
			return fmt.Errorf("outcome %s with trigger %s", o, tg)
		}
	case otelguard.OutcomeDisarmed:
		if runs != 0 || tg != otelguard.TriggerDisarm {
			return fmt.Errorf("disarmed (trigger %s) but the release ran %d times", tg, runs)
		}
	case otelguard.OutcomeOpenAtShutdown:
		// Reported, not released: a later path released it (1) or ended it
		// without releasing (0); the final CloseAll leaves no third way.
		if tg != otelguard.TriggerShutdown {
			return fmt.Errorf("open_at_shutdown with trigger %s", tg)
		}
		if runs == 0 && !nonReleasing {
			return errors.New("open_at_shutdown, never released, though only releasing paths could end it")
		}
	case otelguard.OutcomeLeaked:
		if tg != otelguard.TriggerGC {
			return fmt.Errorf("leaked with trigger %s", tg)
		}
		switch {
		case leakReleased:
			if !l.releaseOnLeak || runs != 1 {
				return fmt.Errorf("leak.released with ReleaseOnLeak=%v, release ran %d times", l.releaseOnLeak, runs)
			}
		case l.watch:
			return errors.New("leaked with a CloseOnCancel watch: its context owns the release")
		case runs != 0:
			return fmt.Errorf("leaked without ReleaseOnLeak but released %d times", runs)
		}
	default:
		return fmt.Errorf("unexpected outcome %q (trigger %s)", o, tg)
	}
	if l.disarmWon.Load() && (runs != 0 || (o != otelguard.OutcomeDisarmed && o != otelguard.OutcomeOpenAtShutdown)) {
		return fmt.Errorf("Disarm returned true, yet outcome %s and %d releases", o, runs)
	}
	if l.closeRan.Load() {
		if runs != 1 {
			return fmt.Errorf("a Close ran the release, which ran %d times", runs)
		}
		if o != otelguard.OutcomeOpenAtShutdown && tg != otelguard.TriggerClose {
			return fmt.Errorf("a Close ran the release, but the span says %s/%s", o, tg)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Leak detection correctness

// TestNoFalseLeaks: a million lifetimes (100,000 with -short), closed
// correctly by every path on 4 goroutines, with collections forced all
// along: leak detection (on, noop provider) reports none of them. A positive control of 100 dropped handles
// proves the detector was live: exactly 100 leaks are found.
func TestNoFalseLeaks(t *testing.T) {
	n := 1_000_000 // about 2.5s, or 12.5s with -race, on 2 cores
	if testing.Short() {
		n = 100_000
	}
	tr := otelguard.New(otelguard.WithTracerProvider(noop.NewTracerProvider()),
		otelguard.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelguard.WithStackDepth(-1))
	start := time.Now()
	ctx := context.Background()
	rel := func(context.Context, int) error { return nil }
	const workers = 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				// Each path names its lifetimes, so that a false leak says
				// which path it came from.
				switch i % 8 {
				case 0:
					_ = otelguard.Acquire(ctx, "close", i, rel, otelguard.WithTracker(tr)).Close(ctx)
				case 1:
					r := otelguard.Acquire(ctx, "close.twice", i, rel, otelguard.WithTracker(tr))
					_ = r.Close(ctx)
					_ = r.Close(ctx)
				case 2:
					<-otelguard.Acquire(ctx, "close.async", i, rel, otelguard.WithTracker(tr)).CloseAsync(ctx)
				case 3:
					_ = otelguard.Acquire(ctx, "detach", i, rel, otelguard.WithTracker(tr)).Detach()
				case 4:
					_ = otelguard.NewGuard(ctx, "run", nop, otelguard.WithTracker(tr)).Run()
				case 5:
					otelguard.NewGuard(ctx, "disarm", nop, otelguard.WithTracker(tr)).Disarm()
				case 6:
					sc := otelguard.NewScope(ctx, "scope", otelguard.WithTracker(tr))
					sc.Add(otelguard.Acquire(ctx, "scope.member", i, rel, otelguard.WithTracker(tr)))
					sc.Defer("scope.defer", nop)
					_ = sc.Close(ctx)
				case 7:
					// The handle is kept until the ctx is done: dropping it
					// before is a leak by definition (the watch still
					// releases it, see TestLeakedWithCancelWatchStillReleasedOnCancel).
					cctx, cancel := context.WithCancel(ctx)
					r := otelguard.Acquire(cctx, "cancel", i, rel, otelguard.WithTracker(tr), otelguard.CloseOnCancel())
					cancel()
					runtime.KeepAlive(r)
				}
				if i%50_000 == 0 {
					runtime.GC()
				}
			}
		})
	}
	wg.Wait()
	for range 3 {
		runtime.GC()
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bridge.LeakCount(tr); got != 0 {
		t.Fatalf("%d false leaks over %d correctly ended lifetimes: %+v", got, n, bridge.Leaks(tr))
	}
	if live := tr.Live(); len(live) != 0 {
		t.Fatalf("%d lifetimes still open", len(live))
	}
	elapsed := time.Since(start)
	// Positive control.
	for range 100 {
		leakResource(tr)
	}
	collectLeaks(t, tr, 100)
	t.Logf("%d lifetimes closed in %v: 0 false leaks; control: %d of 100 dropped handles found", n, elapsed.Round(time.Millisecond), bridge.LeakCount(tr))
}

// Under GODEBUG=checkfinalizers=1 the runtime checks, at every collection,
// that no object with a cleanup is reachable from its cleanup's argument,
// which would keep it alive forever (and its leak never reported). A handle
// given to Scope.Add, or held by another open lifetime's value, must pass:
// both are ordinary uses. Today the cleanup argument is the lifetime, which
// reaches its Tracker and, through the registry, every other open lifetime
// and what their values and scopes hold: the runtime stops the program with
// "detected possible issues with cleanups". The check runs in a child
// process, as GODEBUG is read at start-up.
func TestCheckFinalizersAcceptsHandlesHeldByOtherLifetimes(t *testing.T) {
	if c := os.Getenv("OTELGUARD_CHECKFINALIZERS_CHILD"); c != "" {
		tr := otelguard.New(otelguard.WithTracerProvider(noop.NewTracerProvider()))
		ctx := context.Background()
		rel := func(context.Context, int) error { return nil }
		switch c {
		case "scope":
			sc := otelguard.NewScope(ctx, "s", otelguard.WithTracker(tr))
			sc.Add(otelguard.Acquire(ctx, "member", 0, rel, otelguard.WithTracker(tr)))
			runtime.GC()
			runtime.GC()
			_ = sc.Close(ctx)
		case "value":
			conn := otelguard.Acquire(ctx, "conn", 0, rel, otelguard.WithTracker(tr))
			tx := otelguard.Acquire(ctx, "tx", conn, func(context.Context, *otelguard.Resource[int]) error { return nil }, otelguard.WithTracker(tr))
			runtime.GC()
			runtime.GC()
			_ = tx.Close(ctx)
			_ = conn.Close(ctx)
		case "control":
			r := otelguard.Acquire(ctx, "r", 0, rel, otelguard.WithTracker(tr))
			runtime.GC()
			runtime.GC()
			_ = r.Close(ctx)
		}
		return
	}
	for _, c := range []string{"control", "scope", "value"} {
		t.Run(c, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCheckFinalizersAcceptsHandlesHeldByOtherLifetimes$", "-test.count=1")
			cmd.Env = append(os.Environ(), "OTELGUARD_CHECKFINALIZERS_CHILD="+c, "GODEBUG=checkfinalizers=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				i := strings.Index(string(out), "WARNING")
				t.Fatalf("child under checkfinalizers=1: %v\n%s", err, string(out)[max(i, 0):min(len(out), max(i, 0)+600)])
			}
		})
	}
}
