package otelguard_test

// Benchmarks and the baselines they are judged against, in one file so one
// run measures both. See docs/PERFORMANCE.md for method and results.

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// discard is an exporter that drops everything: the benchmarks measure
// the instrumented code, not an exporter.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// batchProvider is an AlwaysSample provider batching to a discarding exporter.
func batchProvider(b *testing.B, sampler sdktrace.Sampler) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discard{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
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
		tr := benchTracker(noop.NewTracerProvider(), otelguard.WithLeakDetection(otelguard.LeakDetectionOff))
		b.ReportAllocs()
		for b.Loop() {
			func() {
				g := tr.NewGuard(ctx, "g", releaseNop)
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

// BenchmarkUnsampled: a parent that is not sampled (ParentBased(NeverSample)),
// leak detection on, against the raw unsampled span.
func BenchmarkUnsampled(b *testing.B) {
	tp := batchProvider(b, sdktrace.ParentBased(sdktrace.NeverSample()))
	ctx, parent := tp.Tracer("bench").Start(context.Background(), "request")
	defer parent.End()
	b.Run("impl=rawspan", func(b *testing.B) {
		tracer := tp.Tracer("bench")
		kv := attribute.String("otelguard.kind", "guard")
		b.ReportAllocs()
		for b.Loop() {
			_, s := tracer.Start(ctx, "g")
			s.SetAttributes(kv)
			s.End()
		}
	})
	b.Run("impl=guard", func(b *testing.B) {
		tr := benchTracker(tp, otelguard.WithLeakDetection(otelguard.LeakDetectionOn))
		b.ReportAllocs()
		for b.Loop() {
			g := tr.NewGuard(ctx, "g", releaseNop)
			_ = g.Run()
		}
	})
	b.Run("impl=resource", func(b *testing.B) {
		tr := benchTracker(tp, otelguard.WithLeakDetection(otelguard.LeakDetectionOn))
		v := benchValue()
		b.ReportAllocs()
		for b.Loop() {
			r := otelguard.Acquire(ctx, "r", v, releaseInt, otelguard.WithTracker(tr))
			_ = r.Close(ctx)
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
				g := tr.NewGuard(ctx, "tx.rollback", releaseNop)
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

// BenchmarkTouch is one Resource.Touch at each leak detection level.
func BenchmarkTouch(b *testing.B) {
	ctx := context.Background()
	for _, lvl := range []otelguard.LeakDetection{otelguard.LeakDetectionOff, otelguard.LeakDetectionOn, otelguard.LeakDetectionStacks, otelguard.LeakDetectionParanoid} {
		b.Run("level="+lvl.String(), func(b *testing.B) {
			tr := benchTracker(noop.NewTracerProvider(), otelguard.WithLeakDetection(lvl))
			r := otelguard.Acquire(ctx, "buf", benchValue(), releaseInt, otelguard.WithTracker(tr))
			defer r.Close(ctx)
			b.ReportAllocs()
			for b.Loop() {
				r.Touch("read")
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
		want := tr.LeakCount() + 1
		dropResource(tr)
		n := 0
		for tr.LeakCount() < want {
			runtime.GC()
			n++
			for i := 0; i < 1000 && tr.LeakCount() < want; i++ {
				runtime.Gosched()
			}
			if n > 10 {
				b.Fatal("leak not found after 10 GC cycles")
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
// against ending 1,000,000 raw spans; run it with -benchtime=1x. It
// reports the time of the ending alone and the peak heap while ending.
func BenchmarkShutdownMillion(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	b.Run("impl=rawspans", func(b *testing.B) {
		tp := batchProvider(b, sdktrace.AlwaysSample())
		tracer := tp.Tracer("bench")
		for b.Loop() {
			spans := startN(tracer, n)
			peak := watchPeak(b)
			for _, s := range spans {
				s.SetAttributes(attribute.String("otelguard.outcome", "open_at_shutdown"))
				s.End()
			}
			peak(b)
			b.StartTimer()
		}
	})
	// The same spans ended with the attributes an open_at_shutdown
	// lifetime carries: what the contract itself costs the SDK.
	b.Run("impl=rawspans-sameattrs", func(b *testing.B) {
		tp := batchProvider(b, sdktrace.AlwaysSample())
		tracer := tp.Tracer("bench")
		stack := sampleStack()
		for b.Loop() {
			spans := startN(tracer, n)
			peak := watchPeak(b)
			for _, s := range spans {
				s.SetAttributes(
					attribute.String("otelguard.outcome", "open_at_shutdown"),
					attribute.String("otelguard.trigger", "shutdown"),
					attribute.String("code.stacktrace", stack))
				s.End()
			}
			peak(b)
			b.StartTimer()
		}
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tp := batchProvider(b, sdktrace.AlwaysSample())
		for b.Loop() {
			tr := benchTracker(tp)
			rs := acquireN(tr, n)
			peak := watchPeak(b)
			if err := tr.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
			peak(b)
			b.StopTimer()
			for _, r := range rs {
				r.Detach()
			}
			b.StartTimer()
		}
	})
}

// watchPeak resets the timer and samples the heap until the returned func
// is called, which stops the timer and reports the peak.
func watchPeak(b *testing.B) func(*testing.B) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start := ms.HeapAlloc
	peak := start
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	b.ResetTimer()
	return func(b *testing.B) {
		b.StopTimer()
		close(done)
		<-stopped
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peak-start)/(1<<20), "growth-MiB")
	}
}

// sampleStack is a rendered acquire stack of the benchmark's call site.
func sampleStack() string {
	tr := benchTracker(noop.NewTracerProvider())
	g := tr.NewGuard(context.Background(), "g", releaseNop)
	//otelguard:handoff the guard only puts a lifetime in Live(); its cleanup is not meant to run
	defer g.Disarm()
	return tr.Live()[0].Stack()
}

// BenchmarkMemoryPerOpen measures the live heap per open lifetime against
// per open raw span (the SDK span alone, the same start attributes), each
// with leak detection's stacks captured; run it with -benchtime=1x. The
// difference of the two heap-B/open figures is what otelguard adds to a
// span (the target is at most 256 B).
func BenchmarkMemoryPerOpen(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	b.Run("impl=rawspan", func(b *testing.B) {
		tracer := batchProvider(b, sdktrace.AlwaysSample()).Tracer("bench")
		for b.Loop() {
			spans := make([]trace.Span, 0, n)
			before := liveHeap()
			spans = startN(tracer, n, spans...)
			b.ReportMetric(float64(liveHeap()-before)/n, "heap-B/open")
			for _, s := range spans {
				s.End()
			}
		}
	})
	b.Run("impl=otelguard", func(b *testing.B) {
		tp := batchProvider(b, sdktrace.AlwaysSample())
		for b.Loop() {
			tr := benchTracker(tp)
			rs := make([]*otelguard.Resource[*int], 0, n)
			before := liveHeap()
			rs = acquireN(tr, n, rs...)
			b.ReportMetric(float64(liveHeap()-before)/n, "heap-B/open")
			for _, r := range rs {
				_ = r.Close(ctx)
			}
		}
	})
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
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
