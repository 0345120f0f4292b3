package guardgrpc_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

// spansNamed returns the spans named name of the given kind.
func spansNamed(spans tracetest.SpanStubs, name string, kind trace.SpanKind) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Name == name && s.SpanKind == kind {
			out = append(out, s)
		}
	}
	return out
}

// With otelgrpc's client stats handler, whichever dial option comes first:
// a stream's lifetime is in the caller's trace beside otelgrpc's client
// span (gRPC starts that span inside the stream, after the interceptors);
// a drained stream ends both; a dropped stream, whose otelgrpc span would
// otherwise never end, is reported leaked and, once released, its otelgrpc
// span ends too, Canceled.
func TestWithOtelgrpcClient(t *testing.T) {
	for _, statsFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "stats handler first", false: "interceptor first"}[statsFirst], func(t *testing.T) {
			tr := newLeakTracker(t)
			stats := grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tr.tp)))
			icpt := grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker)))
			opts := []grpc.DialOption{stats, icpt}
			if !statsFirst {
				opts = []grpc.DialOption{icpt, stats}
			}
			cc := dial(t, newServer(t, nil), opts...)
			ignore := goleak.IgnoreCurrent()
			ctx, caller := tr.tp.Tracer("test").Start(context.Background(), "caller")

			if err := drain(watch(t, ctx, cc, "count=2")); err != io.EOF {
				t.Fatal(err)
			}
			dropAfterFirst(t, ctx, cc)
			ls, err := tr.find()
			caller.End()
			if err == nil {
				t.Error("Find found no leak")
			}
			if len(ls) != 2 || ls[0].Outcome != otelguard.OutcomeCleaned || ls[1].Outcome != otelguard.OutcomeLeaked || !ls[1].LeakReleased {
				t.Fatalf("lifetimes %v, want cleaned, then leaked_without_close (released)", outcomes(ls))
			}
			for _, l := range ls {
				if l.Span.Parent.SpanID() != caller.SpanContext().SpanID() {
					t.Errorf("lifetime span's parent %v, want the caller's span", l.Span.Parent.SpanID())
				}
			}
			// gRPC ends otelgrpc's span on the goroutine that finishes the
			// stream, which exits then: once it is gone, the span has ended.
			if err := goleak.Find(ignore); err != nil {
				t.Fatalf("the dropped stream's goroutine is still there: %v", err)
			}
			rpcs := spansNamed(tr.exp.Spans(), "grpc.health.v1.Health/Watch", trace.SpanKindClient)
			if len(rpcs) != 2 {
				t.Fatalf("%d otelgrpc client spans ended, want 2: the dropped stream's ends when its release cancels it", len(rpcs))
			}
			for _, s := range rpcs {
				if s.Parent.SpanID() != caller.SpanContext().SpanID() {
					t.Errorf("otelgrpc span's parent %v, want the caller's span", s.Parent.SpanID())
				}
			}
			if got := attrOf(rpcs[1], "rpc.response.status_code"); got != "CANCELLED" && got != "Canceled" {
				t.Errorf("the dropped stream's otelgrpc span: rpc.response.status_code %q, want CANCELLED", got)
			}
		})
	}
}

func attrOf(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// ended is a SpanProcessor that tells when a span of a given name and kind
// has ended: otelgrpc ends its server span after the handler's status is
// written, so the client may have its answer first.
type ended struct {
	name string
	kind trace.SpanKind
	ch   chan struct{}
}

func (e *ended) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e *ended) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() == e.name && s.SpanKind() == e.kind {
		e.ch <- struct{}{}
	}
}
func (e *ended) Shutdown(context.Context) error   { return nil }
func (e *ended) ForceFlush(context.Context) error { return nil }

func (e *ended) wait(t *testing.T) {
	t.Helper()
	select {
	case <-e.ch:
	case <-time.After(waitTimeout):
		t.Fatalf("gave up after %v waiting for span %s to end", waitTimeout, e.name)
	}
}

// With otelgrpc's server stats handler, whichever server option comes
// first: lifetimes a handler acquires are children of otelgrpc's server
// span (the stats handler's context is the one the interceptors get), and
// what outlives the RPC is reported.
func TestWithOtelgrpcServer(t *testing.T) {
	for _, statsFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "stats handler first", false: "interceptors first"}[statsFirst], func(t *testing.T) {
			tr := newLeakTracker(t)
			serverEnded := &ended{name: "grpc.health.v1.Health/Watch", kind: trace.SpanKindServer, ch: make(chan struct{}, 1)}
			tr.tp.RegisterSpanProcessor(serverEnded)
			kept := make(chan *otelguard.Resource[string], 2)
			h := &healthServer{handle: func(ctx context.Context, _ string) {
				kept <- otelguard.Acquire(ctx, "job.cursor", "c", nop)
			}}
			stats := grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tr.tp)))
			icpts := []grpc.ServerOption{
				grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tr.Tracker))),
				grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor(guardgrpc.WithTracker(tr.Tracker))),
			}
			opts := append([]grpc.ServerOption{stats}, icpts...)
			if !statsFirst {
				opts = append(icpts, stats)
			}
			cc := dialPlain(t, newServer(t, h, opts...))
			if err := drain(watch(t, context.Background(), cc, "count=1")); err != io.EOF {
				t.Fatal(err)
			}
			for range 1 {
				_ = (<-kept).Close(context.Background())
			}
			serverEnded.wait(t)
			server := spansNamed(tr.exp.Spans(), "grpc.health.v1.Health/Watch", trace.SpanKindServer)
			if len(server) != 1 {
				t.Fatalf("%d otelgrpc server spans, want 1", len(server))
			}
			l := byName(t, tr.exp.Lifetimes(), "job.cursor")
			if l.Span.Parent.SpanID() != server[0].SpanContext.SpanID() {
				t.Errorf("job.cursor's parent %v, want otelgrpc's server span %v", l.Span.Parent.SpanID(), server[0].SpanContext.SpanID())
			}
			if ev := outlivedEvent(l); ev["rpc.method"] != "grpc.health.v1.Health/Watch" {
				t.Errorf("job.cursor's otelguard.request.outlived event: %v", ev)
			}
		})
	}
}
