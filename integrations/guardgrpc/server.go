package guardgrpc

import (
	"context"
	"strings"

	"github.com/otelguard/otelguard-go/otelguard"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"google.golang.org/grpc"
)

// UnaryServerInterceptor returns a grpc.UnaryServerInterceptor that does
// for each unary RPC what guardhttp.NewHandler does for an HTTP request:
// the handler gets a context that carries
//
//   - the Tracker (otelguard.ContextWithTracker): the one WithTracker
//     names, else the one the RPC's context already carries, else
//     otelguard.Default(). otelguard's package-level functions given the
//     handler's context (or one derived from it) use it without naming it;
//   - an otelguard.Request with rpc.system.name=grpc and rpc.method
//     ("package.Service/Method"): every lifetime acquired with that
//     context through the package-level functions belongs to it, client
//     streams opened through StreamClientInterceptor and response bodies
//     through guardhttp.NewTransport included.
//
// When the handler returns (or panics), the interceptor ends the Request:
// each of its lifetimes still open then is reported at once, before the
// response is sent — no garbage collection involved, so a test sees it
// deterministically when the RPC has returned: a span event
// otelguard.request.outlived on the lifetime's span with the RPC's
// attributes, a warning through the Tracker's logger (otelguard.WithLogger)
// with its acquire stack, and a count in otelguard.lifetime.outlived_request
// {otelguard.kind, otelguard.name, rpc.system.name, rpc.method}. Its outcome
// is left alone: it is still open, and ends as it will. A lifetime meant to
// outlive its RPC says so when it is acquired, with
// otelguard.OutlivesRequest(), or is acquired with a context not derived
// from the handler's, or ends with Detach when it is handed over.
//
// The interceptor is safe for concurrent use. An RPC costs an
// otelguard.Request and its context value, one more context value when the
// Tracker is not in the RPC's context already, and a lock taken per
// lifetime it acquires and once at its end; see BenchmarkPairGRPC. WithTracker
// is the one Option it uses.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	s := &serverInterceptor{tracker: newConfig(opts).tracker}
	return s.unary
}

// StreamServerInterceptor returns a grpc.StreamServerInterceptor that does
// for each streaming RPC what UnaryServerInterceptor does for a unary one:
// the handler's stream answers Context() with a context carrying the
// Tracker and an otelguard.Request, ended when the handler returns; what
// it still holds open then is reported at once. The stream's other methods
// go to gRPC's stream unchanged. The server side of a stream needs no
// watch of its own: gRPC ends it when the handler returns.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	s := &serverInterceptor{tracker: newConfig(opts).tracker}
	return s.stream
}

// serverInterceptor is what the server interceptors resolved once.
type serverInterceptor struct {
	tracker *otelguard.Tracker // nil: the RPC context's, else Default()
}

func (s *serverInterceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, r := s.begin(ctx, info.FullMethod)
	defer r.End()
	return handler(ctx, req)
}

func (s *serverInterceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, r := s.begin(ss.Context(), info.FullMethod)
	defer r.End()
	return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
}

// begin gives an RPC's context the Tracker and a Request.
func (s *serverInterceptor) begin(ctx context.Context, method string) (context.Context, *otelguard.Request) {
	have := otelguard.TrackerFrom(ctx)
	t := s.tracker
	if t == nil {
		t = have
		if t == nil {
			t = otelguard.Default()
		}
	}
	if t != have {
		ctx = otelguard.ContextWithTracker(ctx, t)
	}
	return otelguard.ContextWithRequest(ctx, semconv.RPCSystemNameGRPC, semconv.RPCMethod(strings.TrimPrefix(method, "/")))
}

// serverStream is the stream a streaming handler gets: gRPC's, with the
// context begin made.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context implements grpc.ServerStream.
func (s *serverStream) Context() context.Context { return s.ctx }
