package guardgrpc_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// warmUp is the service dial's first Check asks for.
const warmUp = "dial"

// waitTimeout bounds every wait of these tests for another goroutine.
const waitTimeout = 10 * time.Second

// healthPkg is the package of gRPC's generated health client: its Watch
// method calls NewStream for the test, so the tests skip its frame.
const healthPkg = "google.golang.org/grpc/health/grpc_health_v1"

// healthServer is gRPC's health service (grpc_health_v1, generated code
// from gRPC itself) with a Watch that does what the request's service name
// says, so that a test chooses how its stream ends:
//
//	count=N   send N messages, then end the stream with OK
//	hold      send 1 message, then wait for the stream's context
//	silent    send nothing, wait for the stream's context
//	error     send 1 message, then end the stream with NotFound
//
// Check answers SERVING, or NotFound for the service "error". handle, when
// set, is called with the handler's context first (not for dial's Check):
// a test's hook into what the server interceptors give a handler.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	handle func(ctx context.Context, service string)
}

var serving = &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}

func (h *healthServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if h.handle != nil && req.Service != warmUp {
		h.handle(ctx, req.Service)
	}
	if req.Service == "error" {
		return nil, status.Error(codes.NotFound, "no such service")
	}
	return serving, nil
}

func (h *healthServer) Watch(req *healthpb.HealthCheckRequest, ss grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	ctx := ss.Context()
	if h.handle != nil {
		h.handle(ctx, req.Service)
	}
	switch svc := req.Service; {
	case strings.HasPrefix(svc, "count="):
		n, err := strconv.Atoi(strings.TrimPrefix(svc, "count="))
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		for range n {
			if err := ss.Send(serving); err != nil {
				return err
			}
		}
		return nil
	case svc == "hold":
		if err := ss.Send(serving); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	case svc == "silent":
		<-ctx.Done()
		return ctx.Err()
	case svc == "error":
		if err := ss.Send(serving); err != nil {
			return err
		}
		return status.Error(codes.NotFound, "no such service")
	}
	return status.Errorf(codes.InvalidArgument, "unknown script %q", req.Service)
}

// newServer starts the health service on 127.0.0.1 with opts and returns
// its address; the server stops when the test ends.
func newServer(t testing.TB, h *healthServer, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	if h == nil {
		h = &healthServer{}
	}
	healthpb.RegisterHealthServer(srv, h)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// dial returns a ClientConn to addr, connected (a first Check has gone
// through, so the transport's goroutines are running), closed when the test
// ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: warmUp}); err != nil {
		t.Fatalf("first Check: %v", err)
	}
	return cc
}

// leakTracker is a Tracker whose spans a memory exporter records as they
// end, for the tests that leak on purpose (otelguardtest.NewTracker would
// fail them, rightly).
type leakTracker struct {
	*otelguard.Tracker
	exp *memory.Exporter
	tp  *sdktrace.TracerProvider
}

func newLeakTracker(t testing.TB, opts ...otelguard.Option) *leakTracker {
	t.Helper()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := otelguard.New(append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return &leakTracker{Tracker: tr, exp: exp, tp: tp}
}

// find forces collections until nothing of tr's is open any more (or
// otelguardtest.Find gives up), waits for the leak reports and their
// releases, and returns the ended lifetimes named guardgrpc's stream.
// Find's error, which lists the leaks, is returned too.
func (tr *leakTracker) find() ([]memory.Lifetime, error) {
	err := otelguardtest.Find(tr.Tracker)
	var out []memory.Lifetime
	for _, l := range tr.exp.Lifetimes() {
		if l.Name == "grpc.client.stream" {
			out = append(out, l)
		}
	}
	return out, err
}

// one returns the one stream lifetime of tr, after find; it fails the test
// if there is not exactly one or if something is still open.
func (tr *leakTracker) one(t testing.TB) memory.Lifetime {
	t.Helper()
	ls, _ := tr.find()
	if len(ls) != 1 {
		t.Fatalf("%d stream lifetimes ended, want 1: %v (open: %d)", len(ls), outcomes(ls), len(tr.Live()))
	}
	return ls[0]
}

func outcomes(ls []memory.Lifetime) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name+":"+string(l.Outcome))
	}
	return out
}

// attr returns the string value of the span attribute key of l, or "".
func attr(l memory.Lifetime, key string) string {
	for _, kv := range l.Span.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// here returns "file:line" of the line after the one that called it: put it
// on the line above a call whose frame a stack must show.
func here() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", file, line+1)
}

// firstFunction is the function of a stack's first frame (Go traceback
// format), without its package path.
func firstFunction(stack string) string {
	fn, _, _ := strings.Cut(stack, "\n")
	fn = strings.TrimSuffix(fn, "(...)")
	if i := strings.LastIndexByte(fn, '('); i > 0 && strings.HasSuffix(fn, ")") {
		fn = fn[:i]
	}
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	return fn
}

// watch opens a Watch stream on cc running script (see healthServer).
func watch(t testing.TB, ctx context.Context, cc *grpc.ClientConn, script string) grpc.ServerStreamingClient[healthpb.HealthCheckResponse] {
	t.Helper()
	s, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: script})
	if err != nil {
		t.Fatalf("Watch(%q): %v", script, err)
	}
	return s
}
