package memory_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// setup returns a Tracker recording synchronously into a fresh Exporter.
func setup(t testing.TB, opts ...otelguard.Option) (*memory.Exporter, *sdktrace.TracerProvider, *otelguard.Tracker) {
	t.Helper()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts = append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)
	return exp, tp, otelguard.New(opts...)
}

func nop(context.Context) error { return nil }

func release(context.Context, int) error { return nil }

// collectLeaks forces collections until tr has found want leaks, then
// waits for their reports to end their spans.
func collectLeaks(t testing.TB, tr *otelguard.Tracker, want int64) {
	t.Helper()
	for i := 0; i < 200 && bridge.LeakCount(tr) < want; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := bridge.LeakCount(tr); got != want {
		t.Fatalf("LeakCount = %d, want %d", got, want)
	}
}

//go:noinline
func leakBuffer(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the test wants the GC's leaked_without_close report
	otelguard.Acquire(context.Background(), "report.buffer", 0, release, otelguard.WithTracker(tr))
}

func byName(t testing.TB, ls []memory.Lifetime, name string) memory.Lifetime {
	t.Helper()
	var found []memory.Lifetime
	for _, l := range ls {
		if l.Name == name {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one lifetime %q, found %d in %v", name, len(found), names(ls))
	}
	return found[0]
}

func names(ls []memory.Lifetime) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

func TestLifetimesDecodeEveryOutcome(t *testing.T) {
	exp, _, tr := setup(t)
	ctx := context.Background()
	start := time.Now()

	db := otelguard.Acquire(ctx, "db.conn", 1, func(context.Context, int) error {
		time.Sleep(2 * time.Millisecond)
		return nil
	}, otelguard.WithTracker(tr))
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}

	g := otelguard.NewGuard(ctx, "tx.rollback", nop, otelguard.WithTracker(tr))
	g.Disarm()

	errFlush := errors.New("flush failed")
	cache := otelguard.Acquire(ctx, "cache.flush", 0, func(context.Context, int) error { return errFlush }, otelguard.WithTracker(tr))
	_ = cache.Close(ctx)

	unblock := make(chan struct{})
	sock := otelguard.Acquire(ctx, "socket.drain", 0, func(context.Context, int) error {
		<-unblock // ignores its context
		return nil
	}, otelguard.WithTracker(tr))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	<-sock.CloseAsync(short)
	cancel()
	close(unblock)

	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	tmp := otelguard.Acquire(ctx, "tmp.file", 0, release, otelguard.WithTracker(tr))
	_ = tmp.Close(done)

	//otelguard:handoff left open on purpose: Shutdown reports it open_at_shutdown
	_ = otelguard.NewGuard(ctx, "worker.lock", nop, otelguard.WithTracker(tr)) // still open at Shutdown
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	ls := exp.Lifetimes()
	if len(ls) != 6 {
		t.Fatalf("Lifetimes = %v, want 6", names(ls))
	}
	for _, l := range ls {
		if l.Start.Before(start) || l.End.Before(l.Start) || l.Span.Name != l.Name {
			t.Errorf("%s: start %v end %v span %q", l.Name, l.Start, l.End, l.Span.Name)
		}
	}

	c := byName(t, ls, "db.conn")
	if c.Kind != otelguard.KindResource || c.Outcome != otelguard.OutcomeCleaned || c.Trigger != otelguard.TriggerClose {
		t.Errorf("db.conn = %+v", c)
	}
	if c.CleanupDuration < 2*time.Millisecond || c.Detached || c.ErrorType != "" || c.AcquireStack != "" {
		t.Errorf("db.conn: cleanup %v detached %v error.type %q stack %q", c.CleanupDuration, c.Detached, c.ErrorType, c.AcquireStack)
	}

	d := byName(t, ls, "tx.rollback")
	if d.Kind != otelguard.KindGuard || d.Outcome != otelguard.OutcomeDisarmed || d.Trigger != otelguard.TriggerDisarm || d.CleanupDuration != 0 {
		t.Errorf("tx.rollback = %+v", d)
	}

	f := byName(t, ls, "cache.flush")
	if f.Outcome != otelguard.OutcomeFailed || f.ErrorType == "" || f.Span.Status.Code != codes.Error {
		t.Errorf("cache.flush = %+v", f)
	}

	to := byName(t, ls, "socket.drain")
	if to.Outcome != otelguard.OutcomeTimedOut || to.ErrorType != "timeout" {
		t.Errorf("socket.drain = %+v", to)
	}

	dt := byName(t, ls, "tmp.file")
	if dt.Outcome != otelguard.OutcomeCleaned || !dt.Detached {
		t.Errorf("tmp.file = %+v", dt)
	}

	o := byName(t, ls, "worker.lock")
	if o.Outcome != otelguard.OutcomeOpenAtShutdown || o.Trigger != otelguard.TriggerShutdown {
		t.Errorf("worker.lock = %+v", o)
	}
	if !strings.Contains(o.AcquireStack, ".TestLifetimesDecodeEveryOutcome(") {
		t.Errorf("worker.lock stack:\n%s", o.AcquireStack)
	}

	for _, want := range []struct {
		o otelguard.Outcome
		n string
	}{
		{otelguard.OutcomeCleaned, "db.conn tmp.file"},
		{otelguard.OutcomeFailed, "cache.flush"},
		{otelguard.OutcomeOpenAtShutdown, "worker.lock"},
		{otelguard.OutcomeLeaked, ""},
	} {
		if got := strings.Join(names(exp.ByOutcome(want.o)), " "); got != want.n {
			t.Errorf("ByOutcome(%s) = %q, want %q", want.o, got, want.n)
		}
	}
	if n := len(exp.Leaks()); n != 0 {
		t.Errorf("Leaks = %d, want none", n)
	}
}

func TestLeaksAreLeakedWithoutCloseOnly(t *testing.T) {
	exp, _, tr := setup(t)
	leakBuffer(tr)
	collectLeaks(t, tr, 1)
	//otelguard:handoff left open on purpose: Shutdown reports it open_at_shutdown
	_ = otelguard.NewGuard(context.Background(), "held", nop, otelguard.WithTracker(tr))
	_ = tr.Shutdown(context.Background())

	ls := exp.Leaks()
	if len(ls) != 1 {
		t.Fatalf("Leaks = %v", names(ls))
	}
	l := ls[0]
	if l.Name != "report.buffer" || l.Outcome != otelguard.OutcomeLeaked || l.Trigger != otelguard.TriggerGC || l.LeakReleased {
		t.Fatalf("leak = %+v", l)
	}
	site, ok := l.AcquireSite()
	if !ok || !strings.HasSuffix(site.Function, ".leakBuffer") || !strings.HasSuffix(site.File, "exporter_test.go") || site.Line == 0 {
		t.Fatalf("AcquireSite = %+v, %v; stack:\n%s", site, ok, l.AcquireStack)
	}
	if s := site.String(); !strings.HasPrefix(s, site.Function+" ") || !strings.HasSuffix(s, "exporter_test.go:"+strconv.Itoa(site.Line)) {
		t.Errorf("Frame.String() = %q", s)
	}
	if len(exp.Lifetimes()) != 2 {
		t.Errorf("Lifetimes = %v", names(exp.Lifetimes()))
	}
}

//go:noinline
func leakReleased(tr *otelguard.Tracker, released chan<- struct{}) {
	//otelguard:handoff leaked on purpose: ReleaseOnLeak releases it when the GC finds it
	otelguard.Acquire(context.Background(), "fd", 0, func(context.Context, int) error {
		close(released)
		return nil
	}, otelguard.WithTracker(tr), otelguard.ReleaseOnLeak())
}

func TestLeakReleased(t *testing.T) {
	exp, _, tr := setup(t)
	released := make(chan struct{})
	leakReleased(tr, released)
	collectLeaks(t, tr, 1)
	<-released
	ls := exp.Leaks()
	if len(ls) != 1 || !ls[0].LeakReleased || !ls[0].Detached {
		t.Fatalf("Leaks = %+v", ls)
	}
}

func TestMisusesStayOutOfLifetimes(t *testing.T) {
	exp, tp, tr := setup(t)
	ctx := context.Background()
	r := otelguard.Acquire(ctx, "conn", 7, release, otelguard.WithTracker(tr))
	_ = r.Close(ctx)
	//otelguard:handoff misuse on purpose: the test wants the use-after-close record
	_ = r.Value() // use after close

	_, plain := tp.Tracer("test").Start(ctx, "not.a.lifetime")
	plain.End()

	if ls := exp.Lifetimes(); len(ls) != 1 || ls[0].Name != "conn" {
		t.Fatalf("Lifetimes = %v", names(ls))
	}
	ms := exp.Misuses()
	if len(ms) != 1 {
		t.Fatalf("Misuses = %+v", ms)
	}
	m := ms[0]
	if m.Lifetime != "conn" || m.Kind != "use_after_close" || m.Span.Name != attrkey.MisuseSpan || m.Time.IsZero() {
		t.Errorf("misuse = %+v", m)
	}
	if !strings.Contains(m.Stack, ".TestMisusesStayOutOfLifetimes(") {
		t.Errorf("misuse stack:\n%s", m.Stack)
	}
	if len(m.Span.Links) != 1 || m.Span.Links[0].SpanContext.SpanID() != exp.Lifetimes()[0].Span.SpanContext.SpanID() {
		t.Errorf("misuse links = %v", m.Span.Links)
	}
	if n := len(exp.Spans()); n != 3 {
		t.Errorf("Spans = %d, want 3", n)
	}
}

func TestShutdownKeepsRecords(t *testing.T) {
	exp, tp, tr := setup(t)
	_ = otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(tr)).Run()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ls := exp.Lifetimes(); len(ls) != 1 || ls[0].Outcome != otelguard.OutcomeCleaned {
		t.Fatalf("after Shutdown: %v", names(ls))
	}
	exp.Reset()
	if n := len(exp.Spans()); n != 0 {
		t.Fatalf("after Reset: %d spans", n)
	}
}

func TestZeroExporterWorks(t *testing.T) {
	var exp memory.Exporter
	if len(exp.Lifetimes()) != 0 || len(exp.Spans()) != 0 || len(exp.Misuses()) != 0 {
		t.Fatal("a zero Exporter has records")
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := otelguard.New(otelguard.WithTracerProvider(tp))
	_ = otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(tr)).Run()
	if n := len(exp.Lifetimes()); n != 1 {
		t.Fatalf("Lifetimes = %d", n)
	}
}

func TestExportSpansHonoursDoneContext(t *testing.T) {
	exp := memory.New()
	stubs := tracetest.SpanStubs{{Name: "x", Attributes: []attribute.KeyValue{attrkey.Kind.String("guard")}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := exp.ExportSpans(ctx, stubs.Snapshots()); !errors.Is(err, context.Canceled) {
		t.Fatalf("ExportSpans(done ctx) = %v", err)
	}
	if n := len(exp.Spans()); n != 0 {
		t.Fatalf("recorded %d spans with a done context", n)
	}
	if err := exp.ExportSpans(context.Background(), stubs.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if ls := exp.Lifetimes(); len(ls) != 1 || ls[0].Kind != otelguard.KindGuard || ls[0].Outcome != "" {
		t.Fatalf("Lifetimes = %+v", ls)
	}
}

func TestReadsReturnCopies(t *testing.T) {
	exp, _, tr := setup(t)
	_ = otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(tr)).Run()
	l := exp.Lifetimes()[0]
	l.Span.Attributes[0] = attribute.String("scribbled", "x")
	s := exp.Spans()
	s[0].Name = "renamed"
	s[0].Attributes[0] = attribute.String("scribbled", "y")
	again := exp.Lifetimes()[0]
	if again.Name != "g" || again.Span.Attributes[0].Key == "scribbled" || again.Kind != otelguard.KindGuard {
		t.Fatalf("a read changed the records: %+v", again)
	}
}

func TestConcurrentExportsAndReads(t *testing.T) {
	exp, tp, tr := setup(t)
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range each {
				_ = otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(tr)).Run()
			}
		}()
		go func() {
			defer wg.Done()
			for range 10 {
				for _, l := range exp.Lifetimes() {
					l.Span.Attributes = append(l.Span.Attributes[:0], attribute.Int("i", 1))
				}
				_ = exp.ByOutcome(otelguard.OutcomeCleaned)
				_ = exp.Spans()
			}
		}()
	}
	wg.Wait()
	_ = tp.Shutdown(context.Background())
	if n := len(exp.ByOutcome(otelguard.OutcomeCleaned)); n != workers*each {
		t.Fatalf("cleaned = %d, want %d", n, workers*each)
	}
}

func TestAcquireSite(t *testing.T) {
	for _, c := range []struct {
		stack string
		want  memory.Frame
		ok    bool
	}{
		{"example.com/app.open(...)\n\t/src/app/open.go:42 +0x1d\nmain.main(...)\n\t/src/app/main.go:7 +0x2\n",
			memory.Frame{Function: "example.com/app.open", File: "/src/app/open.go", Line: 42}, true},
		{"example.com/app.(*Pool).Get(...)\n\tapp/pool.go:9\n", // inlined frame, trimmed path
			memory.Frame{Function: "example.com/app.(*Pool).Get", File: "app/pool.go", Line: 9}, true},
		{"C:/x/y.open(...)\n\tC:/src/app/open.go:3 +0x1\n",
			memory.Frame{Function: "C:/x/y.open", File: "C:/src/app/open.go", Line: 3}, true},
		{"", memory.Frame{}, false},
		{"garbage", memory.Frame{}, false},
		{"f(...)\n\tno line here\n", memory.Frame{}, false},
	} {
		got, ok := memory.Lifetime{AcquireStack: c.stack}.AcquireSite()
		if got != c.want || ok != c.ok {
			t.Errorf("AcquireSite(%q) = %+v, %v; want %+v, %v", c.stack, got, ok, c.want, c.ok)
		}
	}
	if s := (memory.Frame{}).String(); s != "" {
		t.Errorf("zero Frame = %q", s)
	}
}
