package spanleak_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const pkg = "github.com/otelguard/otelguard-go/otelguard/spanleak_test."

// forgetEnd starts a span and drops it without End: the bug.
//
//go:noinline
func forgetEnd(ctx context.Context, tr trace.Tracer, name string) trace.SpanContext {
	_, span := tr.Start(ctx, name)
	return span.SpanContext()
}

// probe is a processor that keeps a weak pointer to every span it sees
// start: it tells whether anything else keeps a span reachable.
type probe struct {
	mu    sync.Mutex
	spans []weak.Pointer[byte]
}

func (p *probe) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spans = append(p.spans, weak.Make(spanPointer(s)))
}
func (*probe) OnEnd(sdktrace.ReadOnlySpan)      {}
func (*probe) Shutdown(context.Context) error   { return nil }
func (*probe) ForceFlush(context.Context) error { return nil }

func (p *probe) reachable() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, w := range p.spans {
		if w.Value() != nil {
			n++
		}
	}
	return n
}

// The SDK keeps no reference to a started span that would hide a dropped
// one from the collector: not the provider, not the tracer, not the
// simple or the batch processor, whichever order they and spanleak are
// registered in. (A processor that keeps started spans does hide them:
// tracetest.SpanRecorder, checked below, and the package doc says so.)
func TestSDKKeepsNoReferenceToAStartedSpan(t *testing.T) {
	for _, exporting := range []string{"simple", "batch", "none"} {
		for _, first := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/spanleakFirst=%v", exporting, first), func(t *testing.T) {
				e := newEnv(t, exporting, first)
				p := &probe{}
				e.app.RegisterSpanProcessor(p)
				ctx, parent := e.tracer().Start(context.Background(), "parent")
				for i := range 10 {
					forgetEnd(ctx, e.tracer(), fmt.Sprint("dropped", i))
				}
				runtime.GC()
				runtime.GC()
				// The parent is held and ended below; the ten children are gone.
				if n := p.reachable(); n != 1 {
					t.Fatalf("%d of 11 spans reachable after collection, want 1 (the parent)", n)
				}
				parent.End()
			})
		}
	}
}

func TestSpanRecorderKeepsStartedSpansReachable(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	p := &probe{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(p))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	forgetEnd(context.Background(), tp.Tracer("t"), "kept")
	runtime.GC()
	runtime.GC()
	if p.reachable() != 1 {
		t.Fatal("tracetest.SpanRecorder no longer keeps started spans: update the package doc")
	}
	runtime.KeepAlive(rec)
}

func TestDroppedSpanIsFoundWithItsStartingFunction(t *testing.T) {
	for _, exporting := range []string{"simple", "batch"} {
		for _, first := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/spanleakFirst=%v", exporting, first), func(t *testing.T) {
				e := newEnv(t, exporting, first)
				sc := forgetEnd(context.Background(), e.tracer(), "checkout")
				e.collect(t, 0)
				fs := e.found("span_not_ended")
				if len(fs) != 1 {
					t.Fatalf("%d span_not_ended findings, want 1: %+v", len(fs), e.found(""))
				}
				f := fs[0]
				if f.name != "checkout" {
					t.Errorf("otelguard.name = %q, want checkout", f.name)
				}
				if f.links != 1 || !f.link.Equal(sc) {
					t.Errorf("links = %d, first %v; want one, to the leaked span %v", f.links, f.link, sc)
				}
				if !f.root {
					t.Error("the finding span has a parent; want a root span")
				}
				if got := firstFunction(f.stack); got != pkg+"forgetEnd" {
					t.Errorf("first frame %q, want %q; stack:\n%s", got, pkg+"forgetEnd", f.stack)
				}
				if !strings.Contains(f.stack, pkg+"TestDroppedSpanIsFoundWithItsStartingFunction") {
					t.Errorf("the stack does not name the test:\n%s", f.stack)
				}
				if f.scope != "example.com/app" {
					t.Errorf("otel.scope.name = %q, want example.com/app", f.scope)
				}
				// The leaked span itself was never exported: that is the bug.
				for _, s := range e.exported.GetSpans() {
					if s.Name == "checkout" {
						t.Error("the span never ended was exported")
					}
				}
			})
		}
	}
}

func TestEndedAndLiveSpansAreNeverReported(t *testing.T) {
	e := newEnv(t, "batch", true)
	tr := e.tracer()
	var live []trace.Span
	for i := range 200 {
		_, s := tr.Start(context.Background(), fmt.Sprint("span", i%7))
		if i%2 == 0 {
			s.End()
		} else {
			live = append(live, s)
		}
	}
	for range 10 {
		runtime.GC()
	}
	e.collect(t, len(live))
	if fs := e.found(""); len(fs) != 0 {
		t.Fatalf("%d findings for spans ended or still held: %+v", len(fs), fs)
	}
	for _, s := range live {
		s.End()
	}
	for range 5 {
		runtime.GC()
	}
	e.collect(t, 0)
	if err := e.proc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs := e.found(""); len(fs) != 0 {
		t.Fatalf("%d findings after every span ended: %+v", len(fs), fs)
	}
}

// Spans started and ended (and some dropped) from many goroutines at once:
// exactly the dropped ones are reported, each once.
func TestParallelStarts(t *testing.T) {
	e := newEnv(t, "batch", false)
	tr := e.tracer()
	const goroutines, each, every = 8, 300, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("g%d", g)
				if i%every == 0 {
					forgetEnd(context.Background(), tr, name)
					continue
				}
				ctx, s := tr.Start(context.Background(), name)
				_, child := tr.Start(ctx, name+".child")
				child.End()
				s.End()
			}
		})
	}
	wg.Wait()
	e.collect(t, 0)
	fs := e.found("span_not_ended")
	if want := goroutines * each / every; len(fs) != want {
		t.Fatalf("%d span_not_ended findings, want %d", len(fs), want)
	}
	seen := map[trace.SpanID]bool{}
	for _, f := range fs {
		if seen[f.link.SpanID()] {
			t.Fatalf("span %v reported twice", f.link.SpanID())
		}
		seen[f.link.SpanID()] = true
		if firstFunction(f.stack) != pkg+"forgetEnd" {
			t.Fatalf("first frame %q", firstFunction(f.stack))
		}
	}
}

// With sampling n, the first 16 spans of a site are watched, then one in
// n: a site that drops every span is found from its first ones.
func TestSampledSites(t *testing.T) {
	e := newEnv(t, "simple", true, spanleak.WithSampling(10))
	tr := e.tracer()
	for range 16 + 50 {
		forgetEnd(context.Background(), tr, "sampled")
	}
	forgetEnd(context.Background(), tr, "other site") // a site of its own: watched
	e.collect(t, 0)
	if n := len(e.found("span_not_ended")); n != 16+5+1 {
		t.Fatalf("%d findings, want 16 + 50/10 + 1 = 22", n)
	}
}

func TestSamplingOffWatchesNothing(t *testing.T) {
	e := newEnv(t, "simple", true, spanleak.WithSampling(-1))
	_, held := e.tracer().Start(context.Background(), "held")
	forgetEnd(context.Background(), e.tracer(), "dropped")
	e.collect(t, 0)
	if err := e.proc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs := e.found(""); len(fs) != 0 {
		t.Fatalf("findings with sampling off: %+v", fs)
	}
	held.End()
}

func TestShutdownReportsTheOpenSpans(t *testing.T) {
	e := newEnv(t, "batch", true)
	tr := e.tracer()
	var held []trace.Span
	for _, name := range []string{"a", "b", "c"} {
		_, s := tr.Start(context.Background(), name)
		held = append(held, s)
	}
	_, ended := tr.Start(context.Background(), "ended")
	ended.End()
	if err := e.proc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	fs := e.found("open_at_shutdown")
	var names []string
	for i, f := range fs {
		names = append(names, f.name)
		if !f.link.Equal(held[i].SpanContext()) {
			t.Errorf("finding %d links %v, want %v", i, f.link, held[i].SpanContext())
		}
		if firstFunction(f.stack) != pkg+"TestShutdownReportsTheOpenSpans" {
			t.Errorf("first frame %q", firstFunction(f.stack))
		}
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("open_at_shutdown findings for %v, want a,b,c in start order", names)
	}
	// After Shutdown: nothing is watched, a second Shutdown reports nothing.
	forgetEnd(context.Background(), tr, "after")
	for _, s := range held {
		s.End()
	}
	if err := e.proc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		runtime.GC()
	}
	e.collect(t, 0)
	if n := len(e.found("")); n != 3 {
		t.Fatalf("%d findings, want the 3 reported at Shutdown", n)
	}
}

// A provider's Shutdown shuts spanleak down first when it was registered
// first: its open_at_shutdown findings reach an exporter on the same provider.
func TestProviderShutdownExportsFindingsOnTheSameProvider(t *testing.T) {
	exp := memory.New() // keeps its records past Shutdown
	var tr *otelguard.Tracker
	proc := spanleak.NewProcessor(spanleak.WithTracker(nil)) // nil: ignored
	_ = proc.Shutdown(context.Background())
	tp := sdktrace.NewTracerProvider()
	tr = otelguard.New(otelguard.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(spanleak.NewProcessor(spanleak.WithTracker(tr)))
	tp.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(exp))
	_, s := tp.Tracer("app").Start(context.Background(), "open")
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, sp := range exp.Spans() {
		if sp.Name == "otelguard.finding" && attrOf(sp.Attributes, "otelguard.finding") == "open_at_shutdown" &&
			attrOf(sp.Attributes, "otelguard.name") == "open" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no open_at_shutdown finding exported; exported: %v", exp.Spans())
	}
	s.End()
	_ = tr.Shutdown(context.Background())
}

// otelguard's own spans are ended by otelguard, which finds its own leaks:
// spanleak leaves them alone.
func TestOtelguardSpansAreLeftToOtelguard(t *testing.T) {
	e := newEnv(t, "simple", true)
	own := otelguard.New(otelguard.WithTracerProvider(e.app), otelguard.WithLeakSampling(-1))
	defer func() { _ = own.Shutdown(context.Background()) }()
	g := otelguard.NewGuard(context.Background(), "held", func(context.Context) error { return nil }, otelguard.WithTracker(own))
	if err := e.proc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fs := e.found(""); len(fs) != 0 {
		t.Fatalf("findings for otelguard's own spans: %+v", fs)
	}
	g.Disarm()
}

func TestStackDepth(t *testing.T) {
	e := newEnv(t, "simple", true, spanleak.WithStackDepth(1))
	forgetEnd(context.Background(), e.tracer(), "shallow")
	e.collect(t, 0)
	fs := e.found("span_not_ended")
	if len(fs) != 1 || strings.Count(fs[0].stack, "(...)") != 1 || firstFunction(fs[0].stack) != pkg+"forgetEnd" {
		t.Fatalf("findings %+v, want one with one frame, forgetEnd", fs)
	}

	e = newEnv(t, "simple", true, spanleak.WithStackDepth(-1))
	forgetEnd(context.Background(), e.tracer(), "no stack")
	e.collect(t, 0)
	fs = e.found("span_not_ended")
	if len(fs) != 1 || fs[0].stack != "" || fs[0].name != "no stack" {
		t.Fatalf("findings %+v, want one without a stack", fs)
	}
}

// blocking holds every finding span in OnStart until release is closed.
type blocking struct {
	entered chan struct{} // gets a value when a finding span is held
	release chan struct{}
}

func (b *blocking) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if s.Name() == "otelguard.finding" {
		b.entered <- struct{}{}
		<-b.release
	}
}
func (*blocking) OnEnd(sdktrace.ReadOnlySpan)      {}
func (*blocking) Shutdown(context.Context) error   { return nil }
func (*blocking) ForceFlush(context.Context) error { return nil }

// A report is made on the processor's own goroutine: a span processor
// that blocks under the Tracker's provider holds up neither the runtime's
// cleanups nor OnStart, and ForceFlush returns by its context's deadline.
func TestAReportThatBlocksHoldsUpNothingElse(t *testing.T) {
	b := &blocking{entered: make(chan struct{}, 1), release: make(chan struct{})}
	ftp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	tracker := otelguard.New(otelguard.WithTracerProvider(ftp))
	proc := spanleak.NewProcessor(spanleak.WithTracker(tracker))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc))
	defer func() {
		_ = tp.Shutdown(context.Background())
		_ = tracker.Shutdown(context.Background())
		_ = ftp.Shutdown(context.Background())
	}()
	var once sync.Once
	release := func() { once.Do(func() { close(b.release) }) }
	defer release() // first: a failed check must not leave the report blocked
	forgetEnd(context.Background(), tp.Tracer("app"), "dropped")
	deadline := time.After(10 * time.Second)
wait:
	for {
		runtime.GC()
		select {
		case <-b.entered:
			break wait
		case <-deadline:
			t.Fatal("the dropped span was not reported in 10s")
		case <-time.After(time.Millisecond):
		}
	}

	// The report is blocked. The runtime's cleanups still run...
	ran := make(chan struct{})
	runtime.AddCleanup(new([16]byte), func(ch chan struct{}) { close(ch) }, ran)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-ran:
			done = true
		case <-deadline:
			t.Fatal("a runtime cleanup did not run while a report was blocked")
		case <-time.After(time.Millisecond):
		}
	}
	// ...spans start and end...
	_, s := tp.Tracer("app").Start(context.Background(), "meanwhile")
	s.End()
	// ...and ForceFlush gives up at its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := proc.ForceFlush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ForceFlush while a report is blocked = %v, want DeadlineExceeded", err)
	}
	release()
	if err := proc.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
}
