package otelguard_test

// Benchmarks and the baselines they are judged against, in one file so one
// run measures both. See docs/PERFORMANCE.md for method and results.

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// discard is an exporter that drops everything: the benchmarks measure
// the instrumented code, not an exporter.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// batchProvider is an AlwaysSample provider batching to a discarding exporter.
func batchProvider(tb testing.TB, sampler sdktrace.Sampler) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discard{}))
	tb.Cleanup(func() { _ = tp.Shutdown(boundedCtx()) })
	return tp
}

// --- the hand-rolled lifecycle: what a careful user writes without otelguard.

var (
	handStartOpts = []trace.SpanStartOption{trace.WithAttributes(attribute.String("otelguard.kind", "resource"))}
)

type handState struct {
	span trace.Span
	pcs  [32]uintptr
	n    int
}

type handHandle struct {
	st      *handState
	cleanup runtime.Cleanup
}

func handLeaked(st *handState) {
	st.span.SetAttributes(attribute.String("otelguard.outcome", "leaked_without_close"))
	st.span.End()
}

//go:noinline
func handAcquire(ctx context.Context, tracer trace.Tracer) *handHandle {
	st := &handState{}
	_, st.span = tracer.Start(ctx, "db.conn", handStartOpts...)
	st.n = runtime.Callers(2, st.pcs[:])
	h := &handHandle{st: st}
	h.cleanup = runtime.AddCleanup(h, handLeaked, st)
	return h
}

func (h *handHandle) Close(ctx context.Context, release func(context.Context) error) error {
	h.cleanup.Stop()
	start := time.Now()
	err := release(ctx)
	h.st.span.SetAttributes(
		attribute.String("otelguard.outcome", "cleaned"),
		attribute.String("otelguard.trigger", "close"),
		attribute.Float64("otelguard.cleanup.duration_ms", float64(time.Since(start))/1e6),
	)
	h.st.span.End()
	runtime.KeepAlive(h)
	return err
}

// benchKey is the key of the values a benchmark's context holds.
type benchKey int

func releaseNop(context.Context) error       { return nil }
func releaseInt(context.Context, *int) error { return nil }
func benchValue() *int                       { v := 1; return &v }

// benchTracker measures no metrics unless opts set a meter provider: the
// baselines record none either.
func benchTracker(tp trace.TracerProvider, opts ...otelguard.Option) *otelguard.Tracker {
	base := []otelguard.Option{otelguard.WithTracerProvider(tp), otelguard.WithMeterProvider(metricnoop.NewMeterProvider())}
	return otelguard.New(append(base, opts...)...)
}

// BenchmarkLifecycle compares Acquire+Close with the hand-rolled baseline:
// AlwaysSample, batch processor to a discarding exporter, leak detection
// with stacks.
func BenchmarkLifecycle(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=handrolled", func(b *testing.B) {
		tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
		b.ReportAllocs()
		for b.Loop() {
			h := handAcquire(ctx, tracer)
			_ = h.Close(ctx, releaseNop)
		}
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tr := benchTracker(batchProvider(b, sdktrace.AlwaysSample()))
		v := benchValue()
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(ctx, "db.conn", v, releaseInt, otelguard.WithTracker(tr))
			_ = r.Close(ctx)
		}
	})
	// The Tracker found in the context, not named with WithTracker: the
	// lookup's cost, under a context holding a few values above it as a
	// request's does.
	b.Run("impl=otelguard-ctxtracker", func(b *testing.B) {
		tr := benchTracker(batchProvider(b, sdktrace.AlwaysSample()))
		v := benchValue()
		tctx := otelguard.ContextWithTracker(ctx, tr)
		for i := range 3 {
			tctx = context.WithValue(tctx, benchKey(i), i)
		}
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(tctx, "db.conn", v, releaseInt)
			_ = r.Close(tctx)
		}
	})
	// A request's ctx carries a deadline: Close still runs the release
	// where it is called (the same baseline applies).
	b.Run("impl=otelguard-deadline", func(b *testing.B) {
		tr := benchTracker(batchProvider(b, sdktrace.AlwaysSample()))
		v := benchValue()
		dctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(dctx, "db.conn", v, releaseInt, otelguard.WithTracker(tr))
			_ = r.Close(dctx)
		}
	})
}

// BenchmarkLifecycleParallel is BenchmarkLifecycle on every P at once.
func BenchmarkLifecycleParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=handrolled", func(b *testing.B) {
		tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h := handAcquire(ctx, tracer)
				_ = h.Close(ctx, releaseNop)
			}
		})
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tr := benchTracker(batchProvider(b, sdktrace.AlwaysSample()))
		v := benchValue()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r := otelguard.Acquire(ctx, "db.conn", v, releaseInt, otelguard.WithTracker(tr))
				_ = r.Close(ctx)
			}
		})
	})
}

// BenchmarkNoop compares a Guard on the noop provider, leak detection off,
// with a raw noop span and a bare defer.
func BenchmarkNoop(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=noopspan", func(b *testing.B) {
		tracer := noop.NewTracerProvider().Tracer("bench")
		kv := attribute.String("otelguard.kind", "guard")
		b.ReportAllocs()
		for b.Loop() {
			_, s := tracer.Start(ctx, "g")
			s.SetAttributes(kv)
			s.End()
		}
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tr := benchTracker(noop.NewTracerProvider(), otelguard.WithLeakSampling(-1))
		b.ReportAllocs()
		for b.Loop() {
			func() {
				g := otelguard.NewGuard(ctx, "g", releaseNop, otelguard.WithTracker(tr))
				defer g.Run()
			}()
		}
	})
	b.Run("impl=defer", func(b *testing.B) {
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			func() {
				defer func() { n++ }()
			}()
		}
	})
}

// BenchmarkUnsampled: what a lifetime costs when nobody traces it. Under a
// parent that is not sampled (ParentBased(NeverSample)), against the raw
// unsampled span it wraps: Start with one attribute, SetAttributes, End.
// resource is Acquire+Close at the default settings (leak detection with
// stacks on every lifetime); resource-sampled128 with WithLeakSampling(128)
// (detection, cleanup and stack, for the first 16 lifetimes of the site and
// one in 128 after: this loop is one site); guard is NewGuard+Run at the
// default settings.
func BenchmarkUnsampled(b *testing.B) {
	tp := batchProvider(b, sdktrace.ParentBased(sdktrace.NeverSample()))
	ctx, parent := tp.Tracer("bench").Start(context.Background(), "request")
	defer parent.End()
	b.Run("impl=rawspan", func(b *testing.B) {
		tracer := tp.Tracer("bench")
		start := trace.WithAttributes(attribute.String("otelguard.kind", "resource"))
		end := []attribute.KeyValue{attribute.String("otelguard.outcome", "cleaned"), attribute.String("otelguard.trigger", "close")}
		b.ReportAllocs()
		for b.Loop() {
			_, s := tracer.Start(ctx, "r", start)
			s.SetAttributes(end...)
			s.End()
		}
	})
	b.Run("impl=resource", func(b *testing.B) {
		tr := benchTracker(tp)
		v := benchValue()
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(ctx, "r", v, releaseInt, otelguard.WithTracker(tr))
			_ = r.Close(ctx)
		}
	})
	b.Run("impl=resource-sampled128", func(b *testing.B) {
		tr := benchTracker(tp, otelguard.WithLeakSampling(128))
		v := benchValue()
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(ctx, "r", v, releaseInt, otelguard.WithTracker(tr))
			_ = r.Close(ctx)
		}
	})
	b.Run("impl=guard", func(b *testing.B) {
		tr := benchTracker(tp)
		b.ReportAllocs()
		for b.Loop() {
			g := otelguard.NewGuard(ctx, "g", releaseNop, otelguard.WithTracker(tr))
			_ = g.Run()
		}
	})
}

// BenchmarkGuard is NewGuard + deferred Run on a recording provider
// (AlwaysSample, batch, leak detection with stacks), against the raw span
// Start+End it wraps.
func BenchmarkGuard(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=rawspan", func(b *testing.B) {
		tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
		b.ReportAllocs()
		for b.Loop() {
			_, s := tracer.Start(ctx, "tx.rollback", handStartOpts...)
			s.End()
		}
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tr := benchTracker(batchProvider(b, sdktrace.AlwaysSample()))
		b.ReportAllocs()
		for b.Loop() {
			func() {
				g := otelguard.NewGuard(ctx, "tx.rollback", releaseNop, otelguard.WithTracker(tr))
				defer g.Run()
			}()
		}
	})
}

// BenchmarkRawSpan is a recording span Start+End with AlwaysSample, the
// floor every recorded lifetime pays.
func BenchmarkRawSpan(b *testing.B) {
	tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tracer.Start(ctx, "db.conn", handStartOpts...)
		s.End()
	}
}

// BenchmarkMetrics is Acquire+Close with metrics off (noop meter provider)
// and on (the SDK's meter provider with a manual reader).
func BenchmarkMetrics(b *testing.B) {
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			var opts []otelguard.Option
			if on {
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				b.Cleanup(func() { _ = mp.Shutdown(ctx) })
				opts = append(opts, otelguard.WithMeterProvider(mp))
			}
			tr := benchTracker(batchProvider(b, sdktrace.AlwaysSample()), opts...)
			v := benchValue()
			b.ReportAllocs()
			for b.Loop() {
				r := otelguard.Acquire(ctx, "db.conn", v, releaseInt, otelguard.WithTracker(tr))
				_ = r.Close(ctx)
			}
		})
	}
}

// BenchmarkLeakFound measures how many forced GC cycles it takes to find a
// dropped handle (the target is at most 2). After each runtime.GC it gives
// the runtime's cleanup goroutine and the Tracker's reporter a bounded
// number of scheduling rounds before counting another cycle.
func BenchmarkLeakFound(b *testing.B) {
	tr := benchTracker(noop.NewTracerProvider())
	var cycles, worst int
	b.ReportAllocs()
	for b.Loop() {
		want := bridge.LeakCount(tr) + 1
		dropResource(tr)
		n := 0
		for bridge.LeakCount(tr) < want {
			runtime.GC()
			n++
			// The report follows the cycle on the runtime's cleanup
			// goroutine and the Tracker's: give them time (bounded), so
			// that only collections are counted.
			for deadline := time.Now().Add(100 * time.Millisecond); bridge.LeakCount(tr) < want && time.Now().Before(deadline); {
				runtime.Gosched()
			}
			if bridge.LeakCount(tr) < want && n == 2 {
				b.Fatal("leak not found within 2 GC cycles (the published figure)")
			}
		}
		cycles += n
		worst = max(worst, n)
	}
	b.ReportMetric(float64(cycles)/float64(b.N), "gc-cycles/leak")
	b.ReportMetric(float64(worst), "worst-gc-cycles")
}

//go:noinline
func dropResource(tr *otelguard.Tracker) {
	//otelguard:handoff dropped on purpose: the benchmark measures how soon the GC finds it
	otelguard.Acquire(context.Background(), "dropped", benchValue(), releaseInt, otelguard.WithTracker(tr))
}

// BenchmarkShutdownMillion ends 1,000,000 open lifetimes with Shutdown,
// against ending 1,000,000 raw spans given the attributes Shutdown gives
// an open lifetime's span at the default leak detection level (outcome,
// trigger and the acquire stack, in one SetAttributes call). It reports
// the time of the ending alone and the peak heap while ending.
//
// Run it with -benchtime=1x, and each implementation in a process of its
// own (make bench alternates them): ending a million spans is mostly the
// collector's work on a heap of more than a gigabyte, so a sub-benchmark
// that shares its process with another measures what the other left
// behind. Each sub-benchmark first goes once through the whole round
// untimed, so that the measured round finds the heap grown to its size
// and its pages mapped, whichever runs first.
func BenchmarkShutdownMillion(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	b.Run("impl=rawspans-sameattrs", func(b *testing.B) {
		tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
		stack := sampleStack()
		end := func(spans []trace.Span) { endAsShutdown(spans, stack) }
		end(startN(tracer, n)) // warm the heap
		var peak heapPeak
		for b.Loop() {
			b.StopTimer()
			spans := startN(tracer, n)
			peak.start()
			b.StartTimer()
			end(spans)
			b.StopTimer()
			peak.stop()
			b.StartTimer()
		}
		peak.report(b)
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tp := batchProvider(b, sdktrace.AlwaysSample())
		shutdown := func(tr *otelguard.Tracker) {
			if err := tr.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
		}
		detach := func(rs []*otelguard.Resource[*int]) {
			for _, r := range rs {
				r.Detach()
			}
		}
		tr := benchTracker(tp) // warm the heap
		rs := acquireN(tr, n)
		shutdown(tr)
		detach(rs)
		var peak heapPeak
		for b.Loop() {
			b.StopTimer()
			tr := benchTracker(tp)
			rs := acquireN(tr, n)
			peak.start()
			b.StartTimer()
			shutdown(tr)
			b.StopTimer()
			peak.stop()
			detach(rs)
			b.StartTimer()
		}
		peak.report(b)
	})
}

// endAsShutdown ends spans as Tracker.Shutdown ends an open lifetime's
// span at the default leak detection level: outcome, trigger, the
// missed-close mark and the acquire stack, in one SetAttributes call, and
// the Error status of a missed close. As a user writes it: the
// variadic slice is allocated per call, as otelguard allocates its end
// attributes. TestShutdownBaselineEndsSpansAsShutdownDoes keeps it so.
func endAsShutdown(spans []trace.Span, stack string) {
	for _, s := range spans {
		s.SetAttributes(
			attrkey.Outcome.String(string(otelguard.OutcomeOpenAtShutdown)),
			attrkey.Trigger.String(string(otelguard.TriggerShutdown)),
			attrkey.MissedClose.Bool(true),
			attrkey.Stacktrace.String(stack))
		s.SetStatus(codes.Error, "still open at Tracker.Shutdown: its owner never closed it")
		s.End()
	}
}

// TestShutdownBaselineEndsSpansAsShutdownDoes checks that
// BenchmarkShutdownMillion compares like with like: a raw span started
// by startN and ended by endAsShutdown carries what a lifetime started by
// acquireN carries once Shutdown has ended it (the same attributes, the
// stack's value aside; the same status, events and links), so that a
// change to either shows here rather than as a better ratio.
func TestShutdownBaselineEndsSpansAsShutdownDoes(t *testing.T) {
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(ctx)
	tr := benchTracker(tp)
	rs := acquireN(tr, 1)
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rs[0].Detach()
	endAsShutdown(startN(tp.Tracer("bench"), 1), sampleStack())

	ended := withoutFindings(rec.Ended())
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2 (the lifetime's and the raw one)", len(ended))
	}
	type shape struct {
		name          string
		attrs         map[attribute.Key]string
		status        sdktrace.Status
		events, links int
	}
	shapeOf := func(s sdktrace.ReadOnlySpan) shape {
		sh := shape{name: s.Name(), attrs: map[attribute.Key]string{}, status: s.Status(), events: len(s.Events()), links: len(s.Links())}
		for _, kv := range s.Attributes() {
			v := kv.Value.String()
			if kv.Key == attrkey.Stacktrace && v != "" {
				v = "(a stack)"
			}
			sh.attrs[kv.Key] = v
		}
		return sh
	}
	life, raw := shapeOf(ended[0]), shapeOf(ended[1])
	if !reflect.DeepEqual(life, raw) {
		t.Errorf("the baseline's span is not what Shutdown leaves:\nlifetime %+v\nraw span %+v", life, raw)
	}
}

// heapPeak samples the heap's objects while it runs, without stopping the
// world (runtime/metrics, not ReadMemStats), and keeps the highest reading
// and the largest growth over the reading at start.
type heapPeak struct {
	peak, growth uint64
	done         chan struct{}
	stopped      chan struct{}
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func readHeapObjects() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// start collects what came before, then samples every 5 ms until stop.
func (p *heapPeak) start() {
	runtime.GC()
	start := readHeapObjects()
	p.done, p.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				h := readHeapObjects()
				p.peak = max(p.peak, h)
				if h > start {
					p.growth = max(p.growth, h-start)
				}
			}
		}
	}()
}

func (p *heapPeak) stop() {
	close(p.done)
	<-p.stopped
}

func (p *heapPeak) report(b *testing.B) {
	b.ReportMetric(float64(p.peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(p.growth)/(1<<20), "growth-MiB")
}

// sampleStack is a rendered acquire stack of the benchmark's call site.
func sampleStack() string {
	tr := benchTracker(noop.NewTracerProvider())
	g := otelguard.NewGuard(context.Background(), "g", releaseNop, otelguard.WithTracker(tr))
	//otelguard:handoff the guard only puts a lifetime in Live(); its cleanup is not meant to run
	defer g.Disarm()
	return tr.Live()[0].Stack
}

// memoryChildEnv names the implementation TestMemoryPerOpenChild measures.
const memoryChildEnv = "OTELGUARD_BENCH_MEMORY_CHILD"

// BenchmarkMemoryPerOpen measures the memory the process holds per open
// lifetime (leak detection at its default, stacks), on the heap and off
// it, against per open raw span (the SDK span alone, with the same start
// attribute). Each iteration measures each in a fresh process
// (TestMemoryPerOpenChild, 100,000 open at once); run it with
// -benchtime=1x, and -count for more samples. Its time per op is that of
// two child processes: meaningless. It reports, per open:
//
//	span-B/open                  a raw span
//	lifetime-B/open              a lifetime, its span included
//	beyond-span-B/open           the difference: what otelguard adds to a
//	                             span (the target is at most 320 B)
//	beyond-span-heap-B/open      … of which heap objects
//	beyond-span-runtime-B/open   … of which what the runtime holds besides:
//	                             the record it keeps off the heap for each
//	                             runtime.AddCleanup, span structures, GC
//	                             metadata, stacks (see memoryHeld)
//	beyond-span-unused-B/open    not counted above: the difference in free
//	                             slots left among the objects (see memoryHeld)
//
// Why a process of its own: the runtime allocates its off-heap records
// (runtime.AddCleanup's special record, 56 B in Go 1.26, in
// /memory/classes/other) from fixed-size allocators that never give memory
// back, only reuse it. In a process that has ended cleanups before — any
// earlier benchmark, an earlier -count — new records take freed ones, the
// figure does not grow and the lifetimes look 56 B cheaper than they are.
// A fresh process has none free.
func BenchmarkMemoryPerOpen(b *testing.B) {
	var span, life memoryPerOpen
	for b.Loop() {
		span.add(memoryInChild(b, "rawspan"))
		life.add(memoryInChild(b, "otelguard"))
	}
	n := float64(b.N)
	b.ReportMetric(span.held/n, "span-B/open")
	b.ReportMetric(life.held/n, "lifetime-B/open")
	b.ReportMetric((life.held-span.held)/n, "beyond-span-B/open")
	b.ReportMetric((life.heap-span.heap)/n, "beyond-span-heap-B/open")
	b.ReportMetric((life.held-life.heap-(span.held-span.heap))/n, "beyond-span-runtime-B/open")
	b.ReportMetric((life.unused-span.unused)/n, "beyond-span-unused-B/open")
}

// memoryPerOpen is what one open span or lifetime holds (memoryHeld), of
// that in heap objects, and the free slots in heap spans beside it.
type memoryPerOpen struct{ held, heap, unused float64 }

func (m *memoryPerOpen) add(o memoryPerOpen) {
	m.held += o.held
	m.heap += o.heap
	m.unused += o.unused
}

const memoryResult = "otelguard-memory-per-open:"

// memoryInChild runs TestMemoryPerOpenChild for impl in a new process of
// this test binary and reads its result.
func memoryInChild(b *testing.B, impl string) memoryPerOpen {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryPerOpenChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memoryChildEnv+"="+impl)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("memory of %s in a child process: %v\n%s", impl, err, out)
	}
	for l := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(l, memoryResult); ok {
			var m memoryPerOpen
			if _, err := fmt.Sscanf(rest, " held=%g heap=%g unused=%g", &m.held, &m.heap, &m.unused); err != nil {
				b.Fatalf("memory of %s: %v in %q", impl, err, l)
			}
			return m
		}
	}
	b.Fatalf("memory of %s: no %q line in the child's output:\n%s", impl, memoryResult, out)
	return memoryPerOpen{}
}

// TestMemoryPerOpenChild is BenchmarkMemoryPerOpen's measurement, run in a
// process of its own; it skips otherwise. It opens n raw spans or n
// lifetimes (the slice holding their handles is allocated before and not
// counted) and prints, per open, the growth of memoryHeld, of heap
// objects and of free slots among them; -test.v lists every memory
// class's growth.
func TestMemoryPerOpenChild(t *testing.T) {
	impl := os.Getenv(memoryChildEnv)
	if impl == "" {
		t.Skip("BenchmarkMemoryPerOpen runs this in a process of its own")
	}
	const n = 100_000
	ctx := context.Background()
	tp := batchProvider(t, sdktrace.AlwaysSample())
	var before, after memClasses
	switch impl {
	case "rawspan":
		tracer := tp.Tracer("bench")
		startN(tracer, 1)[0].End() // first-use setup is not per span
		spans := make([]trace.Span, 0, n)
		before = readMemClasses(t)
		spans = startN(tracer, n, spans...)
		after = readMemClasses(t)
		for _, s := range spans {
			s.End()
		}
	case "otelguard":
		tr := benchTracker(tp)
		_ = acquireN(tr, 1)[0].Close(ctx) // first-use setup is not per lifetime
		rs := make([]*otelguard.Resource[*int], 0, n)
		before = readMemClasses(t)
		rs = acquireN(tr, n, rs...)
		after = readMemClasses(t)
		for _, r := range rs {
			_ = r.Close(ctx)
		}
	default:
		t.Fatalf("%s=%q: want rawspan or otelguard", memoryChildEnv, impl)
	}
	per := func(f func(memClasses) uint64) float64 { return (float64(f(after)) - float64(f(before))) / n }
	for _, name := range slices.Sorted(maps.Keys(after)) {
		t.Logf("%-45s %+8.1f B/open", name, per(func(m memClasses) uint64 { return m[name] }))
	}
	fmt.Printf("%s held=%.2f heap=%.2f unused=%.2f\n", memoryResult, per(memoryHeld),
		per(func(m memClasses) uint64 { return m[heapObjects] }),
		per(func(m memClasses) uint64 { return m[heapUnused] }))
}

// memClasses is runtime/metrics' /memory/classes figures, by name.
type memClasses map[string]uint64

const (
	memTotal   = "/memory/classes/total:bytes"
	heapUnused = "/memory/classes/heap/unused:bytes"
)

// readMemClasses reads every /memory/classes figure after two full
// collections (what is left is what is live), and checks that the classes
// still add up to their total, so that memoryHeld, which picks among them,
// cannot miss one that a later Go adds.
func readMemClasses(t testing.TB) memClasses {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var s []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") {
			s = append(s, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(s)
	m := memClasses{}
	var sum uint64
	for _, x := range s {
		m[x.Name] = x.Value.Uint64()
		if x.Name != memTotal {
			sum += m[x.Name]
		}
	}
	if sum != m[memTotal] {
		t.Fatalf("the /memory/classes figures add up to %d B, not their total %d B: revisit memoryHeld", sum, m[memTotal])
	}
	return m
}

// memoryHeld is the memory the runtime has mapped and holds for the
// program: /memory/classes/total:bytes less
//
//   - what it holds free (every class named free or released: heap/free,
//     heap/released, metadata/mcache/free, metadata/mspan/free): not held
//     for anything;
//   - heap/unused, the free slots in the heap's spans in use: reusable by
//     any later allocation of their size class, and as large as the
//     garbage that happened to be interleaved with the live objects when
//     the collector ran (about 60 B per open raw span and per open
//     lifetime alike, ±5 B from run to run): BenchmarkMemoryPerOpen
//     reports it apart.
//
// What remains is heap objects (heap/objects: each at its size class,
// which HeapAlloc counts too), goroutine stacks (heap/stacks, os-stacks),
// the span structures of the heap's spans in use (metadata/mspan/inuse),
// GC metadata (metadata/other), per-P caches (metadata/mcache/inuse),
// profiling buckets, and the runtime's other records (other: among them
// the 56-byte special record of each runtime.AddCleanup, which HeapAlloc
// leaves out and MemStats counts in OtherSys).
func memoryHeld(m memClasses) uint64 {
	var sum uint64
	for name, v := range m {
		if name == memTotal || name == heapUnused || strings.HasSuffix(name, "/free:bytes") || strings.HasSuffix(name, "/released:bytes") {
			continue
		}
		sum += v
	}
	return sum
}

// startN appends n started raw spans, as the hand-rolled lifecycle starts
// them, to spans.
func startN(tracer trace.Tracer, n int, spans ...trace.Span) []trace.Span {
	ctx := context.Background()
	for range n {
		_, s := tracer.Start(ctx, "db.conn", handStartOpts...)
		spans = append(spans, s)
	}
	return spans
}

// acquireN appends n open resources of tr to rs.
func acquireN(tr *otelguard.Tracker, n int, rs ...*otelguard.Resource[*int]) []*otelguard.Resource[*int] {
	ctx := context.Background()
	v := benchValue()
	for range n {
		rs = append(rs, otelguard.Acquire(ctx, "db.conn", v, releaseInt, otelguard.WithTracker(tr)))
	}
	return rs
}

// BenchmarkCloseWedgedExporter is Acquire+Close on a batch span processor
// whose exporter is healthy (impl=healthy) or wedged forever (impl=wedged,
// the queue overflowing), reporting the median and the 99th percentile of
// Close's latency. That a wedged exporter blocks nothing is proved without
// a clock by TestFaultBatcherBlockedExporterNeverBlocksReleases; this
// measures what it costs.
func BenchmarkCloseWedgedExporter(b *testing.B) {
	for _, mode := range []string{"healthy", "wedged"} {
		b.Run("impl="+mode, func(b *testing.B) {
			exp := newRLExporter("")
			if mode == "wedged" {
				exp = newRLExporter("block")
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(1), sdktrace.WithBatchTimeout(time.Millisecond)))
			tr := benchTracker(tp)
			if mode == "wedged" {
				_ = otelguard.NewGuard(context.Background(), "first", releaseNop, otelguard.WithTracker(tr)).Run()
				select {
				case <-exp.entered:
				case <-time.After(10 * time.Second):
					b.Fatal("the exporter was never called")
				}
			}
			var lat []time.Duration
			v := benchValue()
			for b.Loop() {
				r := otelguard.Acquire(context.Background(), "res", v, releaseInt, otelguard.WithTracker(tr))
				s := time.Now()
				_ = r.Close(context.Background())
				lat = append(lat, time.Since(s))
			}
			b.StopTimer()
			close(exp.unblock)
			_ = tp.Shutdown(boundedCtx())
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
