package guardgrpc_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"github.com/otelguard/otelguard-go/otelguard"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// outerStream is a stream of an interceptor that runs before guardgrpc's
// and wraps what it returns, as logging or retry interceptors do.
type outerStream struct {
	grpc.ClientStream
	recv *atomic.Int64
}

func (s *outerStream) RecvMsg(m any) error {
	s.recv.Add(1)
	return s.ClientStream.RecvMsg(m)
}

// wrapping is an interceptor that wraps the stream, counting RecvMsg calls.
func wrapping(recv *atomic.Int64) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &outerStream{ClientStream: s, recv: recv}, nil
	}
}

// dropsCallOptions is an interceptor that calls the streamer without the
// call options it was given: guardgrpc's grpc.OnFinish among them never
// reaches gRPC.
func dropsCallOptions(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(ctx, desc, cc, method)
}

var errRefused = status.Error(codes.PermissionDenied, "refused by an interceptor")

// refuses is an interceptor that fails the call before gRPC opens a stream.
func refuses(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, grpc.Streamer, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errRefused
}

// In a chain, with interceptors before guardgrpc's that wrap the stream
// and after it: a drained stream ends cleaned through the outer wrapper, a
// dropped one is found, with the line that opened it.
func TestClientInterceptorChain(t *testing.T) {
	tr := newLeakTracker(t)
	var outer, inner atomic.Int64
	cc := dial(t, newServer(t, nil), grpc.WithChainStreamInterceptor(
		wrapping(&outer),
		guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker), guardgrpc.WithCallerSkipPackages(healthPkg)),
		wrapping(&inner)))

	if err := drain(watch(t, context.Background(), cc, "count=2")); err != io.EOF {
		t.Fatal(err)
	}
	at := dropInChain(t, cc)
	ls, err := tr.find()
	if err == nil {
		t.Error("Find found no leak")
	}
	if len(ls) != 2 || ls[0].Outcome != otelguard.OutcomeCleaned || ls[1].Outcome != otelguard.OutcomeLeaked {
		t.Fatalf("lifetimes %v, want cleaned then leaked_without_close", outcomes(ls))
	}
	if !strings.Contains(ls[1].AcquireStack, at) {
		t.Errorf("the leak's stack does not name %s:\n%s", at, ls[1].AcquireStack)
	}
	if outer.Load() != 4 || inner.Load() != 4 {
		t.Errorf("RecvMsg through the outer and inner wrappers: %d, %d; want 4 each (3 drained + 1 before the drop)", outer.Load(), inner.Load())
	}
}

func dropInChain(t *testing.T, cc *grpc.ClientConn) string {
	at := here()
	s := watch(t, context.Background(), cc, "hold")
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	return at
}

// An interceptor after guardgrpc's that does not pass the call options on
// keeps gRPC's OnFinish from guardgrpc. The streams still end by gRPC's
// rules where guardgrpc can see them: an error from RecvMsg on the
// wrapper; or, for a stream dropped after its owner cancelled its context
// or closed its ClientConn, when the collector finds it. Only a stream
// dropped unfinished is a leak. (A stream so intercepted that is kept, and
// ended by its context without anybody calling it again, stays open until
// it is dropped: nobody tells guardgrpc.)
func TestChainWithoutOnFinish(t *testing.T) {
	type result struct {
		outcome otelguard.Outcome
		code    string
	}
	for _, c := range []struct {
		name string
		hold func(t *testing.T, ctx context.Context, cancel context.CancelFunc, cc *grpc.ClientConn)
		want result
	}{
		{"drained", func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) {
			if err := drain(watch(t, ctx, cc, "count=1")); err != io.EOF {
				t.Fatal(err)
			}
		}, result{otelguard.OutcomeCleaned, "OK"}},
		{"cancelled, then dropped", func(t *testing.T, ctx context.Context, cancel context.CancelFunc, cc *grpc.ClientConn) {
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel()
		}, result{otelguard.OutcomeCleaned, "Canceled"}},
		{"ClientConn closed, then dropped", func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) {
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			_ = cc.Close()
		}, result{otelguard.OutcomeCleaned, "Canceled"}},
		{"dropped", func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) {
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
		}, result{otelguard.OutcomeLeaked, ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newLeakTracker(t)
			cc := dial(t, newServer(t, nil), grpc.WithChainStreamInterceptor(
				guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker)), dropsCallOptions))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.hold(t, ctx, cancel, cc)
			l := tr.one(t)
			if got := (result{l.Outcome, attr(l, "rpc.response.status_code")}); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// An interceptor after guardgrpc's that refuses the call: its error comes
// back unchanged, and the lifetime ends at once with its status.
func TestChainRefused(t *testing.T) {
	tr := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithChainStreamInterceptor(
		guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker)), refuses))
	_, err := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "hold"})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Watch: %v, want the interceptor's error", err)
	}
	if n := len(tr.Live()); n != 0 {
		t.Errorf("%d lifetimes open after the refused call", n)
	}
	l := tr.one(t)
	if l.Outcome != otelguard.OutcomeCleaned || attr(l, "rpc.response.status_code") != "PermissionDenied" {
		t.Errorf("%s, %q; want cleaned, PermissionDenied", l.Outcome, attr(l, "rpc.response.status_code"))
	}
}

// Server interceptors in a chain, guardgrpc's first or last: the handler
// gets the Tracker either way, and another interceptor's context values
// reach it.
func TestServerInterceptorChain(t *testing.T) {
	type key struct{}
	other := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(context.WithValue(ctx, key{}, "other"), req)
	}
	otherStream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, &ctxStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), key{}, "other")})
	}
	for _, guardFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "guardgrpc first", false: "guardgrpc last"}[guardFirst], func(t *testing.T) {
			tr := newLeakTracker(t)
			unary := []grpc.UnaryServerInterceptor{guardgrpc.UnaryServerInterceptor(guardgrpc.WithTracker(tr.Tracker)), other}
			stream := []grpc.StreamServerInterceptor{guardgrpc.StreamServerInterceptor(guardgrpc.WithTracker(tr.Tracker)), otherStream}
			if !guardFirst {
				unary[0], unary[1] = unary[1], unary[0]
				stream[0], stream[1] = stream[1], stream[0]
			}
			var seen atomic.Int64
			kept := make(chan *otelguard.Resource[string], 2)
			h := &healthServer{handle: func(ctx context.Context, _ string) {
				if otelguard.TrackerFrom(ctx) == tr.Tracker && ctx.Value(key{}) == "other" {
					seen.Add(1)
				}
				kept <- otelguard.Acquire(ctx, "job.cursor", "c", nop) // left open
			}}
			cc := dialPlain(t, newServer(t, h, grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)))
			if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			if err := drain(watch(t, context.Background(), cc, "count=1")); err != io.EOF {
				t.Fatal(err)
			}
			if seen.Load() != 2 {
				t.Errorf("%d of 2 handlers saw both the Tracker and the other interceptor's value", seen.Load())
			}
			// Both cursors were reported when their RPC returned.
			for range 2 {
				_ = (<-kept).Close(context.Background())
			}
			var reported int
			for _, l := range tr.exp.Lifetimes() {
				if l.Name == "job.cursor" && outlivedEvent(l) != nil {
					reported++
				}
			}
			if reported != 2 {
				t.Errorf("%d of 2 cursors carry otelguard.request.outlived", reported)
			}
		})
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }
