package otelguard_test

// State-machine fuzzing (issue 7, part 2).
//
// FuzzLifetimeOps reads its input as a sequence of operations on up to four
// resources, four guards and four scopes of one Tracker, runs them, and
// checks the Tracker against a model of the contract after every operation
// (release counters, Live) and after the sequence (each lifetime's span,
// outcome and trigger, misuse records, what reached otel.Handle), then once
// more after a final CloseAll and Shutdown, when every tracked lifetime must
// have ended exactly once. Shutdown is terminal: lifetimes acquired after it
// run their releases but are not tracked (no span, not in Live, left out by
// CloseAll).
//
// Every operation is synchronous, so the model is exact: CloseAsync is
// waited for, and a cancelled CloseOnCancel context is followed by Flush,
// which waits for the release it starts. Every handle is kept until the end,
// so leak detection (which depends on the garbage collector) never reports
// anything; TestStressEveryPathAtOnce covers it.
//
// The seed corpus is in testdata/fuzz/FuzzLifetimeOps; `go test` runs it.
// OTELGUARD_WRITE_SEEDS=1 rewrites it from fzSeeds.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// The operations. Each is two bytes: the op, then an argument byte whose
// bits 0-1 pick a slot, bits 2-3 a release mode (0 ok, 1 error, 2 panic;
// 3 is ok) or, for opCancel, the kind (0 resource, 1 guard, 2 scope),
// bit 4 arms CloseOnCancel at acquire, and bits 5-6 pick a second slot.
const (
	opAcqRes = iota
	opAcqGuard
	opAcqScope
	opClose
	opCloseAsync
	opDetach
	opValue
	opRun
	opRunPanicking
	opDisarm
	opDefer
	opAddRes
	opAddScope
	opAddForeign
	opScopeClose
	opScopeDisarm
	opCancel
	opCloseAll
	opShutdown
	opFlush
	numOps
)

var fzOpNames = [numOps]string{"AcqRes", "AcqGuard", "AcqScope", "Close", "CloseAsync", "Detach", "Value", "Run", "RunPanicking",
	"Disarm", "Defer", "AddRes", "AddScope", "AddForeign", "ScopeClose", "ScopeDisarm", "Cancel", "CloseAll", "Shutdown", "Flush"}

const maxFuzzOps = 256

// fzStepTimeout bounds one operation (they take microseconds).
const fzStepTimeout = 30 * time.Second

var errFz = errors.New("fuzz: release failed")

type fzPanic struct{ name string }
type fzOuterPanic struct{}

// fzLife is a lifetime of the model, with its handle.
type fzLife struct {
	name  string
	kind  byte // 'r', 'g', 's', 'm' (a Defer'd member guard)
	seq   int
	mode  int
	watch bool

	cancel context.CancelFunc
	rc     *fzRC // what the release sees: never the handle (see fzRC)
	r      *otelguard.Resource[*fzRC]
	g      *otelguard.Guard
	s      *otelguard.Scope

	// the model
	claimed, reported, detached bool
	untracked                   bool // acquired after Shutdown: no span, not in Live
	outcome                     otelguard.Outcome
	trigger                     otelguard.Trigger
	misuseKind                  string // the first misuse: the only one recorded as a span
	runs                        int
	taken                       bool // a scope that accepts no more members
	members                     []fzEntry
	counter                     *fzForeign // a scope's first member: counts its releases

}

// fzRC is a lifetime's release state. The release must not reach the
// handle: the runtime keeps a cleanup's argument (which holds the value and
// the release) alive while the handle lives, so a handle reachable from it
// is never freed, and everything it reaches with it.
type fzRC struct {
	name string
	mode int
	ran  atomic.Int32
}

type fzEntry struct {
	l *fzLife
	f *fzForeign
}

// fzForeign is a foreign Closer given to Scope.Add.
type fzForeign struct {
	name string
	mode int
	runs int
	ran  atomic.Int32
}

func (f *fzForeign) Close(context.Context) error {
	f.ran.Add(1)
	switch f.mode {
	case 1:
		return errFz
	case 2:
		panic(fzPanic{f.name})
	}
	return nil
}

func (rc *fzRC) do() error {
	rc.ran.Add(1)
	switch rc.mode {
	case 1:
		return errFz
	case 2:
		panic(fzPanic{rc.name})
	}
	return nil
}

func fzRelease(_ context.Context, rc *fzRC) error { return rc.do() }

func (l *fzLife) realRuns() int {
	if l.kind == 's' {
		return int(l.counter.ran.Load())
	}
	return int(l.rc.ran.Load())
}

type fzModel struct {
	t        *testing.T
	h        *harness
	hd       *handled
	seq      int
	lives    []*fzLife
	foreigns []*fzForeign
	handled  int // errors expected at otel.Handle
	res      [4]*fzLife
	guards   [4]*fzLife
	scopes   [4]*fzLife
	trace    []string // the operations run, for failure messages
	shut     bool     // Shutdown was called: it is terminal
}

func (m *fzModel) newLife(kind byte, mode int, watch bool) *fzLife {
	m.seq++
	l := &fzLife{kind: kind, seq: m.seq, mode: mode, watch: watch, name: fmt.Sprintf("%c%d", kind, m.seq), untracked: m.shut}
	l.rc = &fzRC{name: l.name, mode: mode}
	m.lives = append(m.lives, l)
	return l
}

func (m *fzModel) acquireOpts(l *fzLife) (context.Context, []otelguard.AcquireOption) {
	ctx := context.Background()
	opts := []otelguard.AcquireOption{otelguard.WithTracker(m.h.tr)}
	if l.watch {
		ctx, l.cancel = context.WithCancel(ctx)
		opts = append(opts, otelguard.CloseOnCancel())
	}
	return ctx, opts
}

// release models a release that won the claim with trigger trig. It
// returns whether the release failed and the value it panicked with.
func (m *fzModel) release(l *fzLife, trig otelguard.Trigger) (failed bool, pv any) {
	l.claimed = true
	l.runs++
	if l.kind == 's' {
		l.counter.runs++
		failed, pv = m.scopeRelease(l)
	} else {
		switch l.mode {
		case 1:
			failed = true
		case 2:
			failed, pv = true, fzPanic{l.name}
		}
	}
	if !l.reported && !l.untracked {
		l.reported, l.trigger, l.outcome = true, trig, otelguard.OutcomeCleaned
		if failed {
			l.outcome = otelguard.OutcomeFailed
		}
	}
	return failed, pv
}

// scopeRelease closes the members newest first; the first panic goes on,
// a later one (closed while the first unwinds) goes to otel.Handle.
func (m *fzModel) scopeRelease(s *fzLife) (failed bool, pv any) {
	s.taken = true
	ms := s.members
	s.members = nil
	for i := len(ms) - 1; i >= 0; i-- {
		e := ms[i]
		var f bool
		var p any
		if e.l != nil {
			if e.l.claimed {
				continue
			}
			f, p = m.release(e.l, otelguard.TriggerScope)
		} else {
			e.f.runs++
			switch e.f.mode {
			case 1:
				f = true
			case 2:
				f, p = true, fzPanic{e.f.name}
			}
		}
		failed = failed || f
		if pv == nil {
			pv = p
		} else if p != nil {
			m.handled++ // a later panic, while the first unwinds: otel.Handle
		}
	}
	return failed, pv
}

func (m *fzModel) disarm(l *fzLife) bool {
	if l.claimed {
		return false
	}
	l.claimed = true
	if !l.reported && !l.untracked {
		l.reported, l.trigger, l.outcome = true, otelguard.TriggerDisarm, otelguard.OutcomeDisarmed
	}
	return true
}

// disarmMembers models Scope.Disarm's members (Python's pop_all): Defer'd
// guards end disarmed; Resources and Scopes given with Add are handed back
// untouched; foreign closers are dropped.
func (m *fzModel) disarmMembers(s *fzLife) {
	s.taken = true
	ms := s.members
	s.members = nil
	for _, e := range ms {
		if e.l != nil && e.l.kind == 'm' {
			m.disarm(e.l)
		}
	}
}

func (m *fzModel) misuse(l *fzLife, kind string) {
	if l.misuseKind == "" && !l.untracked {
		l.misuseKind = kind
	}
}

// push adds a member to a scope, or, on an ended scope, closes it at once
// and records misuse; it returns false in that case.
func (m *fzModel) push(s *fzLife, e fzEntry) bool {
	if !s.taken {
		s.members = append(s.members, e)
		return true
	}
	m.misuse(s, "add_after_close")
	return false
}

func (m *fzModel) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("after %v:\n"+format, append([]any{m.trace}, args...)...)
}

// catch runs f and returns what it panicked with.
func catch(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func (m *fzModel) expectReturn(what string, err error, pv any, failed bool, got any) {
	m.t.Helper()
	switch {
	case pv != nil:
		if got != pv {
			m.fatalf("%s: panicked with %v, want %v", what, got, pv)
		}
	case got != nil:
		m.fatalf("%s: unexpected panic %v", what, got)
	case failed && err == nil:
		m.fatalf("%s = nil, want an error", what)
	case !failed && err != nil:
		m.fatalf("%s = %v, want nil", what, err)
	}
}

// step runs one operation on the Tracker and on the model.
func (m *fzModel) step(op, arg byte) {
	slot := int(arg & 3)
	mode := int(arg>>2) & 3
	if mode == 3 {
		mode = 0
	}
	watch := arg&0x10 != 0
	slot2 := int(arg>>5) & 3
	m.trace = append(m.trace, fmt.Sprintf("%s(%d,m%d,w%v,%d)", fzOpNames[op], slot, mode, watch, slot2))
	ctx := context.Background()
	switch op {
	case opAcqRes:
		l := m.newLife('r', mode, watch)
		actx, opts := m.acquireOpts(l)
		l.r = otelguard.Acquire(actx, l.name, l.rc, fzRelease, opts...)
		m.res[slot] = l
	case opAcqGuard:
		l := m.newLife('g', mode, watch)
		actx, opts := m.acquireOpts(l)
		rc := l.rc
		l.g = otelguard.NewGuard(actx, l.name, func(context.Context) error { return rc.do() }, append(opts, otelguard.WithTracker(m.h.tr))...)
		m.guards[slot] = l
	case opAcqScope:
		l := m.newLife('s', 0, watch)
		actx, opts := m.acquireOpts(l)
		l.s = otelguard.NewScope(actx, l.name, append(opts, otelguard.WithTracker(m.h.tr))...)
		l.counter = &fzForeign{name: l.name + ".counter"}
		l.s.Add(l.counter)
		l.members = []fzEntry{{f: l.counter}}
		m.scopes[slot] = l
	case opClose:
		l := m.res[slot]
		if l == nil {
			return
		}
		var err error
		got := catch(func() { err = l.r.Close(ctx) })
		if l.claimed {
			if got != nil || !errors.Is(err, otelguard.ErrClosed) {
				m.fatalf("Close of ended %s = %v (panic %v), want ErrClosed", l.name, err, got)
			}
			return
		}
		failed, pv := m.release(l, otelguard.TriggerClose)
		m.expectReturn("Close "+l.name, err, pv, failed, got)
	case opCloseAsync:
		l := m.res[slot]
		if l == nil {
			return
		}
		err := <-l.r.CloseAsync(ctx)
		if l.claimed {
			if !errors.Is(err, otelguard.ErrClosed) {
				m.fatalf("CloseAsync of ended %s = %v, want ErrClosed", l.name, err)
			}
			return
		}
		failed, pv := m.release(l, otelguard.TriggerClose)
		if pv != nil {
			m.handled++
			var pe *otelguard.PanicError
			if !errors.As(err, &pe) || pe.Value != pv {
				m.fatalf("CloseAsync %s = %v, want a *PanicError of %v", l.name, err, pv)
			}
			return
		}
		m.expectReturn("CloseAsync "+l.name, err, nil, failed, nil)
	case opDetach:
		l := m.res[slot]
		if l == nil {
			return
		}
		if v := l.r.Detach(); v != l.rc {
			m.fatalf("Detach returned another value")
		}
		if m.disarm(l) {
			l.detached = true
		} else {
			m.misuse(l, "detach_after_close")
		}
	case opValue:
		l := m.res[slot]
		if l == nil {
			return
		}
		if v := l.r.Value(); v != l.rc {
			m.fatalf("Value returned another value")
		}
		if l.claimed {
			kind := "use_after_close"
			if l.detached {
				kind = "use_after_detach"
			}
			m.misuse(l, kind)
		}
	case opRun:
		l := m.guards[slot]
		if l == nil {
			return
		}
		var err error
		got := catch(func() { err = l.g.Run() })
		if l.claimed {
			if err != nil || got != nil {
				m.fatalf("Run of ended %s = %v (panic %v), want nil", l.name, err, got)
			}
			return
		}
		failed, pv := m.release(l, otelguard.TriggerDefer)
		m.expectReturn("Run "+l.name, err, pv, failed, got)
	case opRunPanicking:
		l := m.guards[slot]
		if l == nil {
			return
		}
		got := catch(func() {
			defer l.g.Run()
			panic(fzOuterPanic{})
		})
		if got != (fzOuterPanic{}) {
			m.fatalf("Run during a panic: recovered %v, want the original panic", got)
		}
		if !l.claimed {
			if _, pv := m.release(l, otelguard.TriggerPanic); pv != nil {
				m.handled++
			}
		}
	case opDisarm:
		l := m.guards[slot]
		if l == nil {
			return
		}
		if got, want := l.g.Disarm(), m.disarm(l); got != want {
			m.fatalf("Disarm %s = %v, want %v", l.name, got, want)
		}
	case opDefer:
		s := m.scopes[slot]
		if s == nil {
			return
		}
		l := m.newLife('m', mode, false)
		rc := l.rc
		got := catch(func() { s.s.Defer(l.name, func(context.Context) error { return rc.do() }) })
		var want any
		if !m.push(s, fzEntry{l: l}) {
			// Run at once on the caller's goroutine: a panic goes on.
			_, want = m.release(l, otelguard.TriggerScope)
		}
		if got != want {
			m.fatalf("Defer panicked %v, want %v", got, want)
		}
	case opAddRes, opAddScope:
		s := m.scopes[slot]
		var c *fzLife
		if op == opAddRes {
			c = m.res[slot2]
		} else {
			c = m.scopes[slot2]
		}
		if s == nil || c == nil {
			return
		}
		var got any
		if c.kind == 'r' {
			got = catch(func() { s.s.Add(c.r) })
		} else {
			got = catch(func() { s.s.Add(c.s) })
		}
		var want any
		if !m.push(s, fzEntry{l: c}) && !c.claimed {
			// Closed at once on the caller's goroutine: an error goes to
			// otel.Handle, a panic goes on.
			failed, pv := m.release(c, otelguard.TriggerScope)
			if want = pv; failed && pv == nil {
				m.handled++
			}
		}
		if got != want {
			m.fatalf("Add panicked %v, want %v", got, want)
		}
	case opAddForeign:
		s := m.scopes[slot]
		if s == nil {
			return
		}
		f := &fzForeign{name: fmt.Sprintf("%s.f%d", s.name, len(m.foreigns)), mode: mode}
		m.foreigns = append(m.foreigns, f)
		got := catch(func() { s.s.Add(f) })
		var want any
		if !m.push(s, fzEntry{f: f}) {
			f.runs++
			switch f.mode {
			case 1: // its error goes to otel.Handle
				m.handled++
			case 2: // its panic goes on
				want = fzPanic{f.name}
			}
		}
		if got != want {
			m.fatalf("Add panicked %v, want %v", got, want)
		}
	case opScopeClose:
		s := m.scopes[slot]
		if s == nil {
			return
		}
		var err error
		got := catch(func() { err = s.s.Close(ctx) })
		if s.claimed {
			if got != nil || !errors.Is(err, otelguard.ErrClosed) {
				m.fatalf("Close of ended scope %s = %v (panic %v)", s.name, err, got)
			}
			return
		}
		failed, pv := m.release(s, otelguard.TriggerClose)
		m.expectReturn("Scope.Close "+s.name, err, pv, failed, got)
	case opScopeDisarm:
		s := m.scopes[slot]
		if s == nil {
			return
		}
		s.s.Disarm()
		if m.disarm(s) {
			m.disarmMembers(s)
		}
	case opCancel:
		var l *fzLife
		switch mode {
		case 0:
			l = m.res[slot]
		case 1:
			l = m.guards[slot]
		default:
			l = m.scopes[slot]
		}
		if l == nil || l.cancel == nil {
			return
		}
		l.cancel()
		if err := m.h.tr.Flush(ctx); err != nil {
			m.fatalf("Flush = %v", err)
		}
		l.cancel = nil
		if !l.claimed {
			if _, pv := m.release(l, otelguard.TriggerCancel); pv != nil {
				m.handled++
			}
		}
	case opCloseAll:
		m.closeAll()
	case opShutdown:
		m.shutdown()
	case opFlush:
		if err := m.h.tr.Flush(ctx); err != nil {
			m.fatalf("Flush = %v", err)
		}
	}
}

// shutdown models Shutdown: terminal, it reports what is open once; what
// is acquired after it is not tracked.
func (m *fzModel) shutdown() {
	if err := m.h.tr.Shutdown(boundedCtx()); err != nil {
		m.fatalf("Shutdown = %v", err)
	}
	if m.shut {
		return
	}
	m.shut = true
	for _, l := range m.lives {
		if !l.claimed && !l.reported && !l.untracked {
			l.reported, l.trigger, l.outcome = true, otelguard.TriggerShutdown, otelguard.OutcomeOpenAtShutdown
		}
	}
}

// closeAll models CloseAll: it takes on every tracked lifetime not claimed
// elsewhere, then releases them newest first (a scope it releases skips
// the members it took on itself).
func (m *fzModel) closeAll() {
	err := m.h.tr.CloseAll(boundedCtx())
	ls := slices.Clone(m.lives)
	slices.SortFunc(ls, func(a, b *fzLife) int { return b.seq - a.seq }) // newest first
	var todo []*fzLife
	for _, l := range ls {
		if !l.claimed && !l.untracked {
			l.claimed = true
			todo = append(todo, l)
		}
	}
	failed := false
	for _, l := range todo {
		f, pv := m.release(l, otelguard.TriggerShutdown)
		failed = failed || f
		if pv != nil {
			m.handled++
		}
	}
	if failed != (err != nil) {
		m.fatalf("CloseAll = %v, want an error: %v", err, failed)
	}
}

// checkCounters compares what ran and what is open with the model.
func (m *fzModel) checkCounters() {
	m.t.Helper()
	open := 0
	for _, l := range m.lives {
		if got := l.realRuns(); got != l.runs || got > 1 {
			m.fatalf("%s: release ran %d times, model %d", l.name, got, l.runs)
		}
		if !l.claimed && !l.untracked {
			open++
		}
	}
	for _, f := range m.foreigns {
		if got := int(f.ran.Load()); got != f.runs {
			m.fatalf("%s: closed %d times, model %d", f.name, got, f.runs)
		}
	}
	if live := m.h.tr.Live(); len(live) != open {
		m.fatalf("Live has %d lifetimes, model %d", len(live), open)
	}
}

// checkSpans compares the recorded spans, misuse records and handled
// panics with the model.
func (m *fzModel) checkSpans() {
	m.t.Helper()
	byName := map[string][]int{}
	ended := m.h.rec.Ended()
	misuse := map[string]string{}
	for i, s := range ended {
		if s.Name() == attrkey.MisuseSpan {
			a := attrs(s)
			n := a[attrkey.Name].AsString()
			if _, dup := misuse[n]; dup {
				m.fatalf("two misuse records for %s", n)
			}
			misuse[n] = a[attrkey.MisuseKind].AsString()
			continue
		}
		byName[s.Name()] = append(byName[s.Name()], i)
	}
	for _, l := range m.lives {
		idx := byName[l.name]
		want := 0
		if l.reported {
			want = 1
		}
		if l.untracked && l.reported {
			m.fatalf("%s: the model reported an untracked lifetime", l.name)
		}
		if len(idx) != want {
			m.fatalf("%s: %d spans, model %d", l.name, len(idx), want)
		}
		if want == 1 {
			a := attrs(ended[idx[0]])
			if o, tg := a[attrkey.Outcome].AsString(), a[attrkey.Trigger].AsString(); o != string(l.outcome) || tg != string(l.trigger) {
				m.fatalf("%s: span %s/%s, model %s/%s", l.name, o, tg, l.outcome, l.trigger)
			}
		}
		if got := misuse[l.name]; got != l.misuseKind {
			m.fatalf("%s: misuse record %q, model %q", l.name, got, l.misuseKind)
		}
	}
	got := 0
	for _, err := range m.hd.all() {
		var pe *otelguard.PanicError
		if !errors.As(err, &pe) && !errors.Is(err, errFz) {
			m.fatalf("otel.Handle got %v", err)
		}
		got++
	}
	if got != m.handled {
		m.fatalf("otel.Handle got %d errors, model %d: %v", got, m.handled, m.hd.all())
	}
}

func runLifetimeOps(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	level := []otelguard.Option{otelguard.WithLeakSampling(-1), otelguard.WithStackDepth(-1),
		otelguard.WithStackDepth(0), otelguard.WithLeakSampling(1)}[data[0]%4]
	data = data[1:]
	// A noop meter provider: no metrics to record, a faster execution.
	h := newHarness(t, level, otelguard.WithMeterProvider(metricnoop.NewMeterProvider()))
	m := &fzModel{t: t, h: h, hd: captureHandled(t)}
	// A deadlock would stall the fuzzer without a report: crash instead,
	// so that the input is saved as a crasher, with every goroutine's stack.
	var current atomic.Value
	current.Store("start")
	watchdog := time.AfterFunc(fzStepTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("fuzz: an operation blocked for %v: %v\n%s", fzStepTimeout, current.Load(), buf))
	})
	defer watchdog.Stop()
	for i := 0; i+1 < len(data) && i/2 < maxFuzzOps; i += 2 {
		m.step(data[i]%numOps, data[i+1])
		current.Store(strings.Join(m.trace, " "))
		watchdog.Reset(fzStepTimeout)
		m.checkCounters()
	}
	m.checkSpans()
	// The end: every lifetime ends, exactly once.
	m.trace = append(m.trace, "CloseAll", "Shutdown")
	m.closeAll()
	m.shutdown()
	m.checkCounters()
	m.checkSpans()
	for _, l := range m.lives {
		if !l.untracked && (!l.claimed || !l.reported) {
			m.fatalf("%s never ended", l.name)
		}
		if l.cancel != nil {
			l.cancel()
		}
	}
	// The cancels start the releases of watched lifetimes acquired after
	// Shutdown, which CloseAll leaves alone: wait for them here, so that
	// what they hand otel.Handle does not land in the next input's run.
	if err := m.h.tr.Flush(boundedCtx()); err != nil {
		m.fatalf("Flush = %v", err)
	}
	if live := m.h.tr.Live(); len(live) != 0 {
		m.fatalf("Live = %d at the end", len(live))
	}
}

// FuzzLifetimeOps: its seeds are the files of testdata/fuzz/FuzzLifetimeOps
// (written from fzSeeds by TestWriteFuzzSeeds).
func FuzzLifetimeOps(f *testing.F) {
	f.Fuzz(runLifetimeOps)
}

// ---------------------------------------------------------------------------
// Seeds

type fzOp struct{ op, arg byte }

// fzArg builds an argument byte: slot, mode (or cancel kind), watch, second slot.
func fzArg(slot, mode int, watch bool, slot2 int) byte {
	b := byte(slot&3) | byte(mode&3)<<2 | byte(slot2&3)<<5
	if watch {
		b |= 0x10
	}
	return b
}

type fzSeed struct {
	name  string
	level byte
	ops   []fzOp
}

func (s fzSeed) data() []byte {
	out := []byte{s.level}
	for _, o := range s.ops {
		out = append(out, o.op, o.arg)
	}
	return out
}

func fzO(op int, arg byte) fzOp { return fzOp{byte(op), arg} }

// fzSeeds cover every operation, each release mode, CloseOnCancel on each
// kind, every leak detection level, and the interleavings that the stress
// test races: Shutdown before a release, Close after Detach, nested and
// self-nested scopes, Add and Defer after close.
var fzSeeds = []fzSeed{
	{"resource-paths", 2, []fzOp{
		fzO(opAcqRes, fzArg(0, 0, false, 0)), fzO(opValue, fzArg(0, 0, false, 0)), fzO(opClose, fzArg(0, 0, false, 0)), fzO(opClose, fzArg(0, 0, false, 0)), fzO(opValue, fzArg(0, 0, false, 0)),
		fzO(opAcqRes, fzArg(1, 1, false, 0)), fzO(opCloseAsync, fzArg(1, 0, false, 0)), fzO(opCloseAsync, fzArg(1, 0, false, 0)),
		fzO(opAcqRes, fzArg(2, 2, false, 0)), fzO(opClose, fzArg(2, 0, false, 0)),
		fzO(opAcqRes, fzArg(3, 2, false, 0)), fzO(opCloseAsync, fzArg(3, 0, false, 0)),
		fzO(opAcqRes, fzArg(0, 0, false, 0)), fzO(opDetach, fzArg(0, 0, false, 0)), fzO(opValue, fzArg(0, 0, false, 0)), fzO(opDetach, fzArg(0, 0, false, 0)), fzO(opClose, fzArg(0, 0, false, 0)),
	}},
	{"guard-paths", 0, []fzOp{
		fzO(opAcqGuard, fzArg(0, 0, false, 0)), fzO(opRun, fzArg(0, 0, false, 0)), fzO(opRun, fzArg(0, 0, false, 0)), fzO(opDisarm, fzArg(0, 0, false, 0)),
		fzO(opAcqGuard, fzArg(1, 1, false, 0)), fzO(opRun, fzArg(1, 0, false, 0)),
		fzO(opAcqGuard, fzArg(2, 2, false, 0)), fzO(opRun, fzArg(2, 0, false, 0)),
		fzO(opAcqGuard, fzArg(3, 2, false, 0)), fzO(opRunPanicking, fzArg(3, 0, false, 0)), fzO(opRunPanicking, fzArg(3, 0, false, 0)),
		fzO(opAcqGuard, fzArg(0, 0, false, 0)), fzO(opDisarm, fzArg(0, 0, false, 0)), fzO(opDisarm, fzArg(0, 0, false, 0)), fzO(opRun, fzArg(0, 0, false, 0)),
		fzO(opAcqGuard, fzArg(1, 0, false, 0)), fzO(opRunPanicking, fzArg(1, 0, false, 0)),
	}},
	{"scope-paths", 1, []fzOp{
		fzO(opAcqScope, fzArg(0, 0, false, 0)), fzO(opDefer, fzArg(0, 0, false, 0)), fzO(opDefer, fzArg(0, 1, false, 0)),
		fzO(opAcqRes, fzArg(0, 0, false, 0)), fzO(opAddRes, fzArg(0, 0, false, 0)), fzO(opAddForeign, fzArg(0, 0, false, 0)),
		fzO(opScopeClose, fzArg(0, 0, false, 0)), fzO(opScopeClose, fzArg(0, 0, false, 0)),
		fzO(opDefer, fzArg(0, 2, false, 0)), fzO(opAcqRes, fzArg(1, 1, false, 0)), fzO(opAddRes, fzArg(0, 0, false, 1)), fzO(opAddForeign, fzArg(0, 1, false, 0)),
		fzO(opAcqScope, fzArg(1, 0, false, 0)), fzO(opDefer, fzArg(1, 0, false, 0)), fzO(opAddForeign, fzArg(1, 0, false, 0)), fzO(opScopeDisarm, fzArg(1, 0, false, 0)), fzO(opScopeDisarm, fzArg(1, 0, false, 0)), fzO(opScopeClose, fzArg(1, 0, false, 0)),
	}},
	{"scope-panics", 3, []fzOp{
		fzO(opAcqScope, fzArg(2, 0, false, 0)), fzO(opDefer, fzArg(2, 2, false, 0)), fzO(opAddForeign, fzArg(2, 2, false, 0)), fzO(opDefer, fzArg(2, 0, false, 0)),
		fzO(opAcqRes, fzArg(2, 2, false, 0)), fzO(opAddRes, fzArg(2, 0, false, 2)), fzO(opScopeClose, fzArg(2, 0, false, 0)),
	}},
	{"nested-scopes", 2, []fzOp{
		fzO(opAcqScope, fzArg(0, 0, false, 0)), fzO(opAcqScope, fzArg(1, 0, false, 0)), fzO(opDefer, fzArg(1, 1, false, 0)),
		fzO(opAddScope, fzArg(0, 0, false, 1)), fzO(opAddScope, fzArg(1, 0, false, 0)), fzO(opAddScope, fzArg(0, 0, false, 0)),
		fzO(opScopeClose, fzArg(0, 0, false, 0)),
		fzO(opAcqScope, fzArg(2, 0, false, 0)), fzO(opAcqScope, fzArg(3, 0, false, 0)), fzO(opDefer, fzArg(3, 0, false, 0)), fzO(opAddScope, fzArg(2, 0, false, 3)),
		fzO(opScopeDisarm, fzArg(2, 0, false, 0)), fzO(opDefer, fzArg(3, 2, false, 0)), fzO(opScopeClose, fzArg(3, 0, false, 0)),
	}},
	{"cancel", 2, []fzOp{
		fzO(opAcqRes, fzArg(0, 0, true, 0)), fzO(opCancel, fzArg(0, 0, false, 0)), fzO(opClose, fzArg(0, 0, false, 0)),
		fzO(opAcqRes, fzArg(1, 2, true, 0)), fzO(opCancel, fzArg(1, 0, false, 0)),
		fzO(opAcqGuard, fzArg(0, 1, true, 0)), fzO(opCancel, fzArg(0, 1, false, 0)), fzO(opRun, fzArg(0, 0, false, 0)),
		fzO(opAcqScope, fzArg(0, 0, true, 0)), fzO(opDefer, fzArg(0, 0, false, 0)), fzO(opCancel, fzArg(0, 2, false, 0)),
		fzO(opAcqRes, fzArg(2, 0, true, 0)), fzO(opClose, fzArg(2, 0, false, 0)), fzO(opCancel, fzArg(2, 0, false, 0)),
		fzO(opAcqGuard, fzArg(1, 0, true, 0)), fzO(opShutdown, 0), fzO(opCancel, fzArg(1, 1, false, 0)), fzO(opFlush, 0),
	}},
	{"shutdown-then-release", 1, []fzOp{
		fzO(opAcqRes, fzArg(0, 0, false, 0)), fzO(opAcqGuard, fzArg(0, 0, false, 0)), fzO(opAcqScope, fzArg(0, 0, false, 0)), fzO(opDefer, fzArg(0, 0, false, 0)),
		fzO(opShutdown, 0), fzO(opShutdown, 0),
		fzO(opClose, fzArg(0, 0, false, 0)), fzO(opRun, fzArg(0, 0, false, 0)), fzO(opScopeClose, fzArg(0, 0, false, 0)),
		fzO(opAcqRes, fzArg(1, 0, false, 0)), fzO(opShutdown, 0), fzO(opDetach, fzArg(1, 0, false, 0)), fzO(opValue, fzArg(1, 0, false, 0)),
		fzO(opAcqGuard, fzArg(1, 2, false, 0)), fzO(opShutdown, 0), fzO(opRunPanicking, fzArg(1, 0, false, 0)),
	}},
	{"closeall", 0, []fzOp{
		fzO(opAcqRes, fzArg(0, 1, false, 0)), fzO(opAcqGuard, fzArg(0, 2, false, 0)), fzO(opAcqScope, fzArg(0, 0, false, 0)), fzO(opAddRes, fzArg(0, 0, false, 0)),
		fzO(opDefer, fzArg(0, 0, false, 0)), fzO(opAcqRes, fzArg(1, 0, false, 0)), fzO(opShutdown, 0),
		fzO(opCloseAll, 0), fzO(opCloseAll, 0), fzO(opClose, fzArg(0, 0, false, 0)), fzO(opRun, fzArg(0, 0, false, 0)), fzO(opDefer, fzArg(0, 1, false, 0)), fzO(opFlush, 0),
	}},
	{"add-after-close", 3, []fzOp{
		fzO(opAcqScope, fzArg(0, 0, false, 0)), fzO(opScopeClose, fzArg(0, 0, false, 0)),
		fzO(opAcqRes, fzArg(0, 2, false, 0)), fzO(opAddRes, fzArg(0, 0, false, 0)), fzO(opAddForeign, fzArg(0, 2, false, 0)), fzO(opAddForeign, fzArg(0, 1, false, 0)),
		fzO(opAcqScope, fzArg(1, 0, false, 0)), fzO(opAddScope, fzArg(0, 0, false, 1)), fzO(opDefer, fzArg(0, 2, false, 0)),
	}},
}

// OTELGUARD_WRITE_SEEDS=1 writes fzSeeds into the seed corpus directory.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("OTELGUARD_WRITE_SEEDS") != "1" {
		t.Skip("set OTELGUARD_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzLifetimeOps")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLifetimeOps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fzSeeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data())
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The seed corpus on disk names every operation, with each release mode and
// CloseOnCancel, and every leak detection level.
func TestFuzzSeedCorpusCoversEveryOperation(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzLifetimeOps")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, fi := range files {
		b, err := os.ReadFile(filepath.Join(dir, fi.Name()))
		if err != nil {
			t.Fatal(err)
		}
		data := decodeSeed(t, string(b))
		if len(data) == 0 {
			continue
		}
		seen[fmt.Sprint("level", data[0]%4)] = true
		for i := 1; i+1 < len(data); i += 2 {
			op, arg := data[i]%numOps, data[i+1]
			seen[fzOpNames[op]] = true
			switch op {
			case opAcqRes, opAcqGuard, opDefer, opAddForeign:
				seen[fmt.Sprintf("%s/mode%d", fzOpNames[op], (arg>>2)&3)] = true
			}
			if arg&0x10 != 0 && op <= opAcqScope {
				seen[fzOpNames[op]+"/watch"] = true
			}
		}
	}
	var want []string
	for _, n := range fzOpNames {
		want = append(want, n)
	}
	for _, n := range []string{"AcqRes", "AcqGuard", "Defer", "AddForeign"} {
		for m := range 3 {
			want = append(want, fmt.Sprintf("%s/mode%d", n, m))
		}
	}
	want = append(want, "AcqRes/watch", "AcqGuard/watch", "AcqScope/watch", "level0", "level1", "level2", "level3")
	for _, w := range want {
		if !seen[w] {
			t.Errorf("the seed corpus never does %s", w)
		}
	}
}

// decodeSeed reads a "go test fuzz v1" file holding one []byte.
func decodeSeed(t *testing.T, s string) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("not a one-[]byte corpus file: %q", s)
	}
	var out string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"), "%q", &out); err != nil {
		t.Fatalf("corpus value: %v", err)
	}
	return []byte(out)
}

// ---------------------------------------------------------------------------
// Names

// FuzzNames: any name, of any length and any bytes, is kept if it is at
// most MaxNameLength bytes, else cut to a prefix of at most MaxNameLength
// bytes ending in "...", never inside a rune of a valid UTF-8 name; the
// empty name gets the kind's default.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "db.conn", strings.Repeat("a", maxNameLength), strings.Repeat("a", maxNameLength+1),
		strings.Repeat("é", 200), strings.Repeat("\x80", 300), strings.Repeat("a", 254) + "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := newHarness(t, otelguard.WithLeakSampling(-1), otelguard.WithMeterProvider(metricnoop.NewMeterProvider()))
		g := otelguard.NewGuard(context.Background(), name, nop, otelguard.WithTracker(h.tr))
		_ = g.Run()
		got := h.rec.Ended()[0].Name()
		switch {
		case name == "":
			if got != "otelguard.guard" {
				t.Fatalf("empty name became %q", got)
			}
		case len(name) <= maxNameLength:
			if got != name {
				t.Fatalf("name %q changed to %q", name, got)
			}
		default:
			if len(got) > maxNameLength || !strings.HasSuffix(got, "...") || !strings.HasPrefix(name, strings.TrimSuffix(got, "...")) {
				t.Fatalf("name of %d bytes cut to %q", len(name), got)
			}
			if utf8.ValidString(name) && !utf8.ValidString(got) {
				t.Fatalf("valid name cut inside a rune: %q", got)
			}
		}
	})
}
