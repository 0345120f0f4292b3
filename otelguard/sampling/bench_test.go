package sampling_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/sampling"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// counter is a span processor that counts the finding spans that end and
// does nothing else, so that a benchmark measures making spans, not
// exporting them.
type counter struct{ findings atomic.Int64 }

func (*counter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *counter) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() == "otelguard.finding" {
		c.findings.Add(1)
	}
}
func (*counter) Shutdown(context.Context) error   { return nil }
func (*counter) ForceFlush(context.Context) error { return nil }

func newProvider(b *testing.B) (*sdktrace.TracerProvider, *counter) {
	c := &counter{}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampling.KeepFindings(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))),
		sdktrace.WithSpanProcessor(c))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, c
}

func nop(context.Context, int) error { return nil }

// BenchmarkFinding is the cost of a finding, in one run beside its
// baselines, at 1% head sampling wrapped in KeepFindings:
//
//   - plain_span: a root span started with the seven attributes a finding
//     has (stack text included) and ended: what any span of that shape
//     costs in the SDK.
//   - request_clean: a Request whose one lifetime is closed before the
//     Request ends: ContextWithRequest, Acquire, Close, End — no finding.
//   - request_finding: the same lifetime left open when the Request ends,
//     then closed: End emits an outlived_request finding (rate limit off,
//     WithLeakLogInterval(-1), so every one is a span). Its cost minus
//     request_clean's is the finding's.
//   - request_finding_folded: the same with the default rate limit (one
//     span per call site and kind per minute): all but the first are
//     folded into a count.
func BenchmarkFinding(b *testing.B) {
	b.Run("plain_span", func(b *testing.B) {
		tp, _ := newProvider(b)
		tr := tp.Tracer("bench")
		attrs := []attribute.KeyValue{
			attribute.String("otelguard.finding", "outlived_request"),
			attribute.String("otelguard.name", "db.rows"),
			attribute.String("otelguard.kind", "resource"),
			attribute.Float64("otelguard.age_ms", 12.5),
			attribute.String("code.stacktrace", "main.handler(...)\n\t/src/handlers.go:97 +0x1d\nnet/http.HandlerFunc.ServeHTTP(...)\n\t/go/src/net/http/server.go:2322 +0x29\n"),
			attribute.String("http.request.method", "GET"),
			attribute.String("http.route", "/lookup"),
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_, s := tr.Start(ctx, "otelguard.finding", withRoot, withAttrs(attrs))
			s.End()
		}
	})
	for _, c := range []struct {
		name     string
		interval time.Duration
		finding  bool
	}{
		{"request_clean", -1, false},
		{"request_finding", -1, true},
		{"request_finding_folded", 0, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			tp, cnt := newProvider(b)
			tracker := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithLeakLogInterval(c.interval))
			b.Cleanup(func() { _ = tracker.Shutdown(context.Background()) })
			base := context.Background()
			method, route := attribute.String("http.request.method", "GET"), attribute.String("http.route", "/lookup")
			b.ReportAllocs()
			for b.Loop() {
				ctx, req := otelguard.ContextWithRequest(base, method, route)
				r := otelguard.Acquire(ctx, "db.rows", 1, nop, otelguard.WithTracker(tracker))
				if c.finding {
					req.End()
					_ = r.Close(ctx)
				} else {
					_ = r.Close(ctx)
					req.End()
				}
			}
			b.ReportMetric(float64(cnt.findings.Load())/float64(b.N), "findings/op")
		})
	}
}

// BenchmarkFindingRateLimit measures how many finding spans the rate limit
// lets through per second in one process, against what is offered: sites
// distinct call sites (distinct names, stacks off: a site is then its
// name and kind) each ending a Request with a lifetime open, round after
// round, with WithLeakLogInterval(interval). The limit is one span per
// site and kind per interval, for at most 4,096 sites apart (the table's
// bound; beyond, sites share a slot and its window): expected
// min(sites, 4096) / interval per second, plus the first round.
func BenchmarkFindingRateLimit(b *testing.B) {
	for _, c := range []struct {
		sites    int
		interval time.Duration
	}{{1, time.Minute}, {100, time.Second}, {10000, time.Second}} {
		b.Run(fmt.Sprintf("sites=%d/interval=%v", c.sites, c.interval), func(b *testing.B) {
			tp, cnt := newProvider(b)
			tracker := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithStackDepth(-1),
				otelguard.WithLeakSampling(-1), otelguard.WithLeakLogInterval(c.interval))
			b.Cleanup(func() { _ = tracker.Shutdown(context.Background()) })
			names := make([]string, c.sites)
			for i := range names {
				names[i] = fmt.Sprintf("site.%d", i)
			}
			base := context.Background()
			start := time.Now()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				ctx, req := otelguard.ContextWithRequest(base)
				r := otelguard.Acquire(ctx, names[i%c.sites], 1, nop, otelguard.WithTracker(tracker))
				req.End()
				_ = r.Close(ctx)
				i++
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(cnt.findings.Load())/secs, "findings/s")
			b.ReportMetric(float64(b.N)/secs, "offered/s")
		})
	}
}

var withRoot = trace.WithNewRoot()

func withAttrs(kv []attribute.KeyValue) trace.SpanStartOption { return trace.WithAttributes(kv...) }
