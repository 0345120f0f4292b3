package guardgrpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// startExampleServer serves h (gRPC's health service, see healthServer) on
// 127.0.0.1 and returns a ClientConn to it, with dial's options, and a
// function that closes both.
func startExampleServer(h *healthServer, srvOpts []grpc.ServerOption, dialOpts ...grpc.DialOption) (*grpc.ClientConn, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(srvOpts...)
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(lis) }()
	dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), dialOpts...)
	if err != nil {
		panic(err)
	}
	return cc, func() { _ = cc.Close(); srv.Stop() }
}

// exampleLogger prints the Tracker's records without the time and the
// acquire stack, so that the output is the same on every run.
func exampleLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || slices.Contains(groups, "code.stacktrace") {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// A client whose streams are watched: one read to its end ends cleaned;
// one dropped after its first message is found by the garbage collector,
// reported with the stack of the code that opened it, and cancelled so
// that gRPC frees its goroutine.
func ExampleStreamClientInterceptor() {
	exp := memory.New()
	tracker := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	defer tracker.Shutdown(context.Background())

	cc, stop := startExampleServer(&healthServer{}, nil,
		grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tracker))))
	defer stop()
	client := healthpb.NewHealthClient(cc)
	ctx := context.Background()

	s, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "count=2"})
	if err != nil {
		panic(err)
	}
	for {
		if _, err := s.Recv(); err != nil { // io.EOF: the stream is finished
			break
		}
	}
	readFirstOnly(ctx, client)

	_ = otelguardtest.Find(tracker) // collects garbage until the dropped stream is found
	for _, l := range exp.Lifetimes() {
		fmt.Println(l.Name, l.Outcome, "status:", attr(l, "rpc.response.status_code"), "cancelled:", l.LeakReleased)
	}
	// Output:
	// grpc.client.stream cleaned status: OK cancelled: false
	// grpc.client.stream leaked_without_close status:  cancelled: true
}

// readFirstOnly reads the first message of a stream and forgets the rest:
// the stream is never finished.
func readFirstOnly(ctx context.Context, client healthpb.HealthClient) {
	s, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "hold"})
	if err != nil {
		panic(err)
	}
	_, _ = s.Recv()
}

// A unary handler that leaves a lifetime open is reported when it returns,
// before the client has its answer.
func ExampleUnaryServerInterceptor() {
	tracker := otelguard.New(otelguard.WithLogger(exampleLogger()))
	defer tracker.Shutdown(context.Background())

	cursors := make(chan *otelguard.Resource[string], 1)
	h := &healthServer{handle: func(ctx context.Context, _ string) {
		// The RPC's context carries the Tracker and the RPC's Request.
		cursors <- otelguard.Acquire(ctx, "report.cursor", "c", func(context.Context, string) error { return nil })
		// ... and the handler returns without closing it.
	}}
	cc, stop := startExampleServer(h, []grpc.ServerOption{
		grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tracker))),
	})
	defer stop()

	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		panic(err)
	}
	_ = (<-cursors).Close(context.Background())
	// Output:
	// level=WARN msg="otelguard: lifetime outlived its request" otelguard.name=report.cursor otelguard.kind=resource rpc.system.name=grpc rpc.method=grpc.health.v1.Health/Check
}

// A streaming handler gets the same: its stream's Context carries the
// Tracker and a Request, ended when the handler returns.
func ExampleStreamServerInterceptor() {
	tracker := otelguard.New(otelguard.WithLogger(exampleLogger()))
	defer tracker.Shutdown(context.Background())

	cursors := make(chan *otelguard.Resource[string], 1)
	h := &healthServer{handle: func(ctx context.Context, _ string) { // ctx is ss.Context()
		fmt.Println("handler's Tracker is the interceptor's:", otelguard.TrackerFrom(ctx) == tracker)
		cursors <- otelguard.Acquire(ctx, "feed.cursor", "c", func(context.Context, string) error { return nil })
	}}
	cc, stop := startExampleServer(h, []grpc.ServerOption{
		grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor(guardgrpc.WithTracker(tracker))),
	})
	defer stop()

	s, err := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "count=1"})
	if err != nil {
		panic(err)
	}
	for {
		if _, err := s.Recv(); err != nil {
			break
		}
	}
	_ = (<-cursors).Close(context.Background())
	// Output:
	// handler's Tracker is the interceptor's: true
	// level=WARN msg="otelguard: lifetime outlived its request" otelguard.name=feed.cursor otelguard.kind=resource rpc.system.name=grpc rpc.method=grpc.health.v1.Health/Watch
}

// Generated client code opens a stream for its caller: naming its package
// makes a leak's stack start at the caller. Without the option the stack
// starts at the generated method, with the caller as its next frame.
func ExampleWithCallerSkipPackages() {
	for _, skip := range [][]string{nil, {"google.golang.org/grpc/health/grpc_health_v1"}} {
		exp := memory.New()
		tracker := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
		cc, stop := startExampleServer(&healthServer{}, nil, grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(
			guardgrpc.WithTracker(tracker), guardgrpc.WithCallerSkipPackages(skip...))))
		readFirstOnly(context.Background(), healthpb.NewHealthClient(cc))
		_ = otelguardtest.Find(tracker)
		for _, l := range exp.Leaks() {
			site, _ := l.AcquireSite()
			fmt.Println(site.Function)
		}
		stop()
		_ = tracker.Shutdown(context.Background())
	}
	// Output:
	// google.golang.org/grpc/health/grpc_health_v1.(*healthClient).Watch
	// github.com/otelguard/otelguard-go/integrations/guardgrpc_test.readFirstOnly
}

// WithoutReleaseOnLeak: a dropped stream is reported, not cancelled; it
// ends, as without guardgrpc, when its context does.
func ExampleWithoutReleaseOnLeak() {
	exp := memory.New()
	tracker := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	defer tracker.Shutdown(context.Background())
	cc, stop := startExampleServer(&healthServer{}, nil, grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(
		guardgrpc.WithTracker(tracker), guardgrpc.WithoutReleaseOnLeak())))
	defer stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // what ends the dropped stream, and its goroutine, here
	readFirstOnly(ctx, healthpb.NewHealthClient(cc))
	_ = otelguardtest.Find(tracker)
	for _, l := range exp.Leaks() {
		fmt.Println(l.Name, l.Outcome, "cancelled:", l.LeakReleased)
	}
	// Output:
	// grpc.client.stream leaked_without_close cancelled: false
}

// A stream meant to outlive the Request in its context says so with
// OutlivesRequest; Request.End (what the server interceptors call when a
// handler returns) reports only the other one.
func ExampleOutlivesRequest() {
	tracker := otelguard.New()
	defer tracker.Shutdown(context.Background())
	cc, stop := startExampleServer(&healthServer{}, nil, grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(
		guardgrpc.WithTracker(tracker))))
	defer stop()
	client := healthpb.NewHealthClient(cc)

	ctx, req := otelguard.ContextWithRequest(context.Background(), attribute.String("job", "example"))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	forgotten, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "hold"})
	if err != nil {
		panic(err)
	}
	handedOff, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "hold"}, guardgrpc.OutlivesRequest())
	if err != nil {
		panic(err)
	}
	for _, l := range req.End() {
		fmt.Println("outlived its request:", l.Name)
	}
	runtime.KeepAlive(forgotten)
	runtime.KeepAlive(handedOff)
	// Output:
	// outlived its request: grpc.client.stream
}
