package guardgrpc_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// syncBuffer is a bytes.Buffer that a logger may write to from a server's
// goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func nop(context.Context, string) error { return nil }

// outlivedCounts reads otelguard.lifetime.outlived_request by attribute set.
func outlivedCounts(t *testing.T, reader *sdkmetric.ManualReader) map[attribute.Set]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[attribute.Set]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "otelguard.lifetime.outlived_request" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				out[p.Attributes] += p.Value
			}
		}
	}
	return out
}

// outlivedEvent returns the attributes of the lifetime's
// otelguard.request.outlived event, or nil.
func outlivedEvent(l memory.Lifetime) map[string]string {
	for _, e := range l.Span.Events {
		if e.Name == "otelguard.request.outlived" {
			m := map[string]string{}
			for _, kv := range e.Attributes {
				m[string(kv.Key)] = kv.Value.String()
			}
			return m
		}
	}
	return nil
}

func byName(t *testing.T, ls []memory.Lifetime, name string) memory.Lifetime {
	t.Helper()
	var found []memory.Lifetime
	for _, l := range ls {
		if l.Name == name {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lifetimes named %q, want 1: %v", len(found), name, outcomes(ls))
	}
	return found[0]
}

// An RPC's lifetimes still open when its handler returns are reported
// then, before the response reaches the client — counter, warning, and
// the event on the span with the RPC's attributes — without a collection,
// and stay open. One closed in time, or acquired with OutlivesRequest, is
// not reported. The handler finds the Tracker in its context. Unary and
// streaming RPCs alike.
func TestServerReportsWhatOutlivesTheRPC(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		name, method := "unary", "grpc.health.v1.Health/Check"
		if streaming {
			name, method = "stream", "grpc.health.v1.Health/Watch"
		}
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			reader := sdkmetric.NewManualReader()
			tr := newLeakTracker(t,
				otelguard.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
				otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			kept := make(chan *otelguard.Resource[string], 2)
			h := &healthServer{handle: func(ctx context.Context, _ string) {
				if got := otelguard.TrackerFrom(ctx); got != tr.Tracker {
					t.Errorf("the handler's context carries Tracker %p, want %p", got, tr.Tracker)
				}
				closed := otelguard.Acquire(ctx, "job.lock", "l", nop)
				_ = closed.Close(ctx)
				kept <- otelguard.Acquire(ctx, "job.cursor", "c", nop) // left open: outlives the RPC
				kept <- otelguard.Acquire(ctx, "job.pool.conn", "p", nop, otelguard.OutlivesRequest())
			}}
			addr := newServer(t, h,
				grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tr.Tracker))),
				grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor(guardgrpc.WithTracker(tr.Tracker))))
			cc := dialPlain(t, addr)
			client := healthpb.NewHealthClient(cc)
			if streaming {
				s := watch(t, context.Background(), cc, "count=1")
				if err := drain(s); err != io.EOF {
					t.Fatal(err)
				}
			} else if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}

			// Reported when the RPC returned: the counter and the warning are
			// there before any collection, and the lifetime is still open.
			want := attribute.NewSet(attribute.String("otelguard.kind", "resource"), attribute.String("otelguard.name", "job.cursor"),
				attribute.String("rpc.system.name", "grpc"), attribute.String("rpc.method", method))
			if counts := outlivedCounts(t, reader); counts[want] != 1 || len(counts) != 1 {
				t.Errorf("otelguard.lifetime.outlived_request = %v, want 1 for %v and nothing else", counts, want.Encoded(attribute.DefaultEncoder()))
			}
			log := logs.String()
			for _, s := range []string{`level=WARN msg="otelguard: lifetime outlived its request"`, "otelguard.name=job.cursor",
				"rpc.system.name=grpc", "rpc.method=" + method, "code.stacktrace.0=\"github.com/otelguard/otelguard-go/integrations/guardgrpc_test.TestServerReportsWhatOutlivesTheRPC.func"} {
				if !strings.Contains(log, s) {
					t.Errorf("the log has no %s:\n%s", s, log)
				}
			}
			if strings.Count(log, "outlived its request") != 1 {
				t.Errorf("the log reports other lifetimes:\n%s", log)
			}
			open := map[string]bool{}
			for _, l := range tr.Live() {
				open[l.Name] = true
			}
			if !open["job.cursor"] || !open["job.pool.conn"] || len(open) != 2 {
				t.Errorf("open after the RPC: %v, want job.cursor and job.pool.conn", open)
			}

			for range 2 {
				_ = (<-kept).Close(context.Background())
			}
			ls := tr.exp.Lifetimes()
			if got := outlivedEvent(byName(t, ls, "job.cursor")); got["rpc.method"] != method || got["rpc.system.name"] != "grpc" {
				t.Errorf("job.cursor's otelguard.request.outlived event: %v, want the RPC's attributes", got)
			}
			if l := byName(t, ls, "job.cursor"); l.Outcome != otelguard.OutcomeCleaned {
				t.Errorf("job.cursor %s, want cleaned: being reported leaves the outcome alone", l.Outcome)
			}
			for _, n := range []string{"job.lock", "job.pool.conn"} {
				if outlivedEvent(byName(t, ls, n)) != nil {
					t.Errorf("%s was reported as outliving its RPC", n)
				}
			}
		})
	}
}

// dialPlain is dial without a stream interceptor of guardgrpc's.
func dialPlain(t *testing.T, addr string) *grpc.ClientConn { return dial(t, addr) }

// Without WithTracker, the handler's context carries the Tracker the RPC's
// context carried (none here: gRPC's server contexts carry none), else
// otelguard.Default().
func TestServerDefaultTracker(t *testing.T) {
	got := make(chan *otelguard.Tracker, 2)
	h := &healthServer{handle: func(ctx context.Context, _ string) { got <- otelguard.TrackerFrom(ctx) }}
	addr := newServer(t, h,
		grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor()),
		grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor()))
	cc := dialPlain(t, addr)
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if tr := <-got; tr != otelguard.Default() {
		t.Errorf("unary handler's Tracker %p, want otelguard.Default() %p", tr, otelguard.Default())
	}
	if err := drain(watch(t, context.Background(), cc, "count=1")); err != io.EOF {
		t.Fatal(err)
	}
	if tr := <-got; tr != otelguard.Default() {
		t.Errorf("stream handler's Tracker %p, want otelguard.Default() %p", tr, otelguard.Default())
	}
}

// A handler that opens a client stream upstream with its RPC's context and
// returns without finishing it is reported when it returns — the stream is
// open then — and the stream ends cleaned (Canceled) when gRPC cancels the
// RPC's context: a context end, not a leak.
func TestServerReportsAClientStreamLeftOpen(t *testing.T) {
	var logs syncBuffer
	tr := newLeakTracker(t, otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	upstream := dial(t, newServer(t, nil),
		grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker), guardgrpc.WithCallerSkipPackages(healthPkg))))
	streams := make(chan grpc.ServerStreamingClient[healthpb.HealthCheckResponse], 1)
	h := &healthServer{handle: func(ctx context.Context, svc string) {
		if svc != "proxy" {
			return
		}
		s := watch(t, ctx, upstream, "hold")
		if _, err := s.Recv(); err != nil {
			t.Error(err)
		}
		streams <- s // kept, never finished: only the RPC's context ends it
	}}
	addr := newServer(t, h, grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tr.Tracker))))
	cc := dialPlain(t, addr)
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "proxy"}); err != nil {
		t.Fatal(err)
	}
	log := logs.String()
	if !strings.Contains(log, "otelguard.name=grpc.client.stream") || !strings.Contains(log, "rpc.method=grpc.health.v1.Health/Check") {
		t.Errorf("the stream left open was not reported when the RPC returned:\n%s", log)
	}
	s := <-streams
	ls, err := tr.find()
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if len(ls) != 1 {
		t.Fatalf("stream lifetimes %v, want 1", outcomes(ls))
	}
	l := ls[0]
	if l.Outcome != otelguard.OutcomeCleaned || attr(l, "rpc.response.status_code") != "Canceled" {
		t.Errorf("upstream stream %s, %q; want cleaned, Canceled", l.Outcome, attr(l, "rpc.response.status_code"))
	}
	if ev := outlivedEvent(l); ev["rpc.method"] != "grpc.health.v1.Health/Check" {
		t.Errorf("the stream's otelguard.request.outlived event: %v", ev)
	}
	_ = s
}

// A handler that hands a stream, opened on a context detached from its
// RPC's, to work that outlasts the RPC: without OutlivesRequest the stream
// is reported when the handler returns (the detached context still carries
// the RPC's Request); with it, it is not. Either way the stream is watched
// and ends when its own context does.
func TestOutlivesRequestCallOption(t *testing.T) {
	for _, outlives := range []bool{false, true} {
		t.Run(map[bool]string{false: "without", true: "with OutlivesRequest"}[outlives], func(t *testing.T) {
			var logs syncBuffer
			tr := newLeakTracker(t, otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			upstream := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker))))
			cancels := make(chan context.CancelFunc, 1)
			h := &healthServer{handle: func(ctx context.Context, _ string) {
				ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
				var opts []grpc.CallOption
				if outlives {
					opts = append(opts, guardgrpc.OutlivesRequest())
				}
				s, err := healthpb.NewHealthClient(upstream).Watch(ctx, &healthpb.HealthCheckRequest{Service: "hold"}, opts...)
				if err != nil {
					t.Error(err)
				}
				go func() { _ = drain(s) }() // the work that outlasts the RPC
				cancels <- cancel
			}}
			cc := dialPlain(t, newServer(t, h, grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tr.Tracker)))))
			if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			if reported := strings.Contains(logs.String(), "otelguard.name=grpc.client.stream"); reported == outlives {
				t.Errorf("reported as outliving the RPC: %v, want %v:\n%s", reported, !outlives, logs.String())
			}
			if n := len(tr.Live()); n != 1 {
				t.Errorf("%d lifetimes open after the RPC, want the stream", n)
			}
			(<-cancels)()
			l := tr.one(t)
			if l.Outcome != otelguard.OutcomeCleaned || attr(l, "rpc.response.status_code") != "Canceled" {
				t.Errorf("%s, %q; want cleaned, Canceled", l.Outcome, attr(l, "rpc.response.status_code"))
			}
		})
	}
}
