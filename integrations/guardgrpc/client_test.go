package guardgrpc_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardgrpc"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// watchDesc is Watch's method as a bidirectional stream, for the rows that
// drive the stream by hand (SendMsg, CloseSend, RecvMsg).
var watchDesc = &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true, ClientStreams: true}

const watchMethod = "/grpc.health.v1.Health/Watch"

// drain reads s until RecvMsg fails and returns that error.
func drain(s grpc.ClientStream) error {
	for {
		if err := s.RecvMsg(new(healthpb.HealthCheckResponse)); err != nil {
			return err
		}
	}
}

// A matrixRow is one way a caller can hold a client stream. hold opens a
// stream on cc with ctx (cancel cancels ctx) and does with it what the row
// says; it returns where it opened the stream and, for a row that keeps the
// stream, the stream, which the test keeps reachable until it has judged.
type matrixRow struct {
	name string
	hold func(t *testing.T, ctx context.Context, cancel context.CancelFunc, cc *grpc.ClientConn) (at string, keep any)
	// leaked: the stream is found leaked_without_close (and released:
	// its context cancelled). Else it ends cleaned with code as
	// rpc.response.status_code.
	leaked bool
	code   string
}

var matrix = []matrixRow{
	{
		name: "drained to EOF",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "count=3")
			if err := drain(s); err != io.EOF {
				t.Fatalf("drain: %v, want io.EOF", err)
			}
			return at, nil
		},
		code: "OK",
	},
	{
		name: "CloseSend then drained",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s, err := cc.NewStream(ctx, watchDesc, watchMethod)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg(&healthpb.HealthCheckRequest{Service: "count=2"}); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := drain(s); err != io.EOF {
				t.Fatalf("drain: %v, want io.EOF", err)
			}
			return at, nil
		},
		code: "OK",
	},
	{
		name: "error status from server, read to its error",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "error")
			if err := drain(s); status.Code(err) != codes.NotFound {
				t.Fatalf("drain: %v, want NotFound", err)
			}
			return at, nil
		},
		code: "NotFound",
	},
	{
		name: "deadline passed while reading",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			at := here()
			s := watch(t, ctx, cc, "hold")
			if err := drain(s); status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("drain: %v, want DeadlineExceeded", err)
			}
			return at, nil
		},
		code: "DeadlineExceeded",
	},
	{
		name: "ctx cancelled by owner, stream kept",
		hold: func(t *testing.T, ctx context.Context, cancel context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel() // gRPC finishes the stream on its goroutine; nobody reads it again
			return at, s
		},
		code: "Canceled",
	},
	{
		name: "ctx cancelled by owner, then dropped",
		hold: func(t *testing.T, ctx context.Context, cancel context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel()
			return at, nil
		},
		code: "Canceled",
	},
	{
		name: "ClientConn closed, stream kept",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			if err := cc.Close(); err != nil {
				t.Fatal(err)
			}
			return at, s
		},
		code: "Canceled",
	},
	{
		name: "ClientConn closed, then dropped",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			if err := cc.Close(); err != nil {
				t.Fatal(err)
			}
			return at, nil
		},
		code: "Canceled",
	},
	{
		name: "dropped after first message",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "hold")
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			return at, nil
		},
		leaked: true,
	},
	{
		name: "dropped before any Recv",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			watch(t, ctx, cc, "silent")
			return at, nil
		},
		leaked: true,
	},
	{
		name: "dropped after error status arrived, unread",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s := watch(t, ctx, cc, "error")
			if _, err := s.Recv(); err != nil { // the message before the error
				t.Fatal(err)
			}
			return at, nil
		},
		leaked: true,
	},
	{
		name: "dropped after CloseSend, unread",
		hold: func(t *testing.T, ctx context.Context, _ context.CancelFunc, cc *grpc.ClientConn) (string, any) {
			at := here()
			s, err := cc.NewStream(ctx, watchDesc, watchMethod)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg(&healthpb.HealthCheckRequest{Service: "hold"}); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			return at, nil
		},
		leaked: true,
	},
}

// TestDetectionMatrix holds a stream each way a caller can, on a real
// server over loopback, and checks what the Tracker found: a stream
// finished by gRPC's rules ends cleaned with its status and is never
// reported; a stream dropped unfinished is leaked_without_close with the
// stack of the line that opened it, its context is cancelled, and gRPC's
// goroutines for it are gone afterwards.
func TestDetectionMatrix(t *testing.T) {
	for _, row := range matrix {
		t.Run(row.name, func(t *testing.T) {
			tr := newLeakTracker(t)
			addr := newServer(t, nil)
			cc := dial(t, addr, grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(
				guardgrpc.WithTracker(tr.Tracker), guardgrpc.WithCallerSkipPackages(healthPkg))))
			ignore := goleak.IgnoreCurrent()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			at, keep := row.hold(t, ctx, cancel, cc)
			ls, findErr := tr.find()
			runtime.KeepAlive(keep)
			if len(ls) != 1 {
				t.Fatalf("%d stream lifetimes ended, want 1: %v (Find: %v)", len(ls), outcomes(ls), findErr)
			}
			l := ls[0]
			if attr(l, "rpc.method") != "grpc.health.v1.Health/Watch" || attr(l, "rpc.system.name") != "grpc" {
				t.Errorf("attributes %v, want rpc.system.name=grpc, rpc.method=grpc.health.v1.Health/Watch", l.Span.Attributes)
			}
			if row.leaked {
				if l.Outcome != otelguard.OutcomeLeaked || l.Trigger != otelguard.TriggerGC || !l.LeakReleased {
					t.Fatalf("outcome %s, trigger %s, released %v; want leaked_without_close, gc, released", l.Outcome, l.Trigger, l.LeakReleased)
				}
				if findErr == nil || !strings.Contains(findErr.Error(), `"grpc.client.stream": leaked_without_close`) {
					t.Errorf("Find = %v, want the leak", findErr)
				}
				if !strings.Contains(l.AcquireStack, at) {
					t.Errorf("acquire stack does not name %s:\n%s", at, l.AcquireStack)
				}
				if got := firstFunction(l.AcquireStack); got != "guardgrpc_test.watch" && !strings.HasPrefix(got, "guardgrpc_test.init.func") {
					t.Errorf("stack starts at %s, want the test's code:\n%s", got, l.AcquireStack)
				}
				if got := attr(l, "rpc.response.status_code"); got != "" {
					t.Errorf("rpc.response.status_code = %q on a leak, want none", got)
				}
				if got := attr(l, "otelguard.missed_close"); got != "true" {
					t.Errorf("otelguard.missed_close = %q on a leak, want true", got)
				}
			} else {
				if findErr != nil {
					t.Errorf("Find: %v", findErr)
				}
				if l.Outcome != otelguard.OutcomeCleaned || l.Trigger != otelguard.TriggerClose || l.AcquireStack != "" {
					t.Errorf("outcome %s, trigger %s, stack %q; want cleaned, close, none", l.Outcome, l.Trigger, l.AcquireStack)
				}
				if got := attr(l, "rpc.response.status_code"); got != row.code {
					t.Errorf("rpc.response.status_code = %q, want %q", got, row.code)
				}
				// Finished by gRPC's rules — an owner's cancel or Close
				// included — is not a missed close.
				if got := attr(l, "otelguard.missed_close"); got != "" {
					t.Errorf("otelguard.missed_close = %q, want none", got)
				}
			}
			// Whatever the row did, gRPC's goroutines for the stream (the
			// client's context watcher, the server's handler) are gone:
			// for a leak, because its release cancelled the stream.
			if err := goleak.Find(ignore); err != nil {
				t.Errorf("goroutines left after the stream was judged: %v", err)
			}
		})
	}
}

// TestWithoutReleaseOnLeak: the leak is reported, and the stream's
// goroutine lives on, as without guardgrpc, until the caller's context is
// done.
func TestWithoutReleaseOnLeak(t *testing.T) {
	tr := newLeakTracker(t)
	addr := newServer(t, nil)
	cc := dial(t, addr, grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(
		guardgrpc.WithTracker(tr.Tracker), guardgrpc.WithoutReleaseOnLeak())))
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dropAfterFirst(t, ctx, cc)

	l := tr.one(t)
	if l.Outcome != otelguard.OutcomeLeaked || l.LeakReleased {
		t.Fatalf("outcome %s, released %v; want leaked_without_close, not released", l.Outcome, l.LeakReleased)
	}
	if goleak.Find(ignore) == nil {
		t.Fatal("no goroutine left behind by the dropped stream: was it cancelled after all?")
	}
	cancel()
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after the caller's context was cancelled: %v", err)
	}
}

// dropAfterFirst opens a stream, reads its first message and drops it.
func dropAfterFirst(t *testing.T, ctx context.Context, cc *grpc.ClientConn) {
	t.Helper()
	s := watch(t, ctx, cc, "hold")
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
}

// TestLeakStackStartsAtCaller: without WithCallerSkipPackages, the stack
// of a stream opened through generated code starts at the generated
// method, with the caller's line next; naming the generated package makes
// it start at the caller.
func TestLeakStackStartsAtCaller(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "skip generated package"}[skip], func(t *testing.T) {
			tr := newLeakTracker(t)
			opts := []guardgrpc.Option{guardgrpc.WithTracker(tr.Tracker)}
			if skip {
				opts = append(opts, guardgrpc.WithCallerSkipPackages(healthPkg))
			}
			cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(opts...)))
			at := openAndDrop(t, cc)
			l := tr.one(t)
			if l.Outcome != otelguard.OutcomeLeaked {
				t.Fatalf("outcome %s, want leaked_without_close", l.Outcome)
			}
			want := "grpc_health_v1.(*healthClient).Watch"
			if skip {
				want = "guardgrpc_test.openAndDrop"
			}
			if got := firstFunction(l.AcquireStack); got != want {
				t.Errorf("stack starts at %s, want %s:\n%s", got, want, l.AcquireStack)
			}
			if !strings.Contains(l.AcquireStack, at) {
				t.Errorf("stack does not name %s:\n%s", at, l.AcquireStack)
			}
		})
	}
}

func openAndDrop(t *testing.T, cc *grpc.ClientConn) string {
	at := here()
	_, err := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "silent"})
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestStreamInterfaces: the wrapper passes Header, Trailer, CloseSend and
// Context through to gRPC's stream.
func TestStreamInterfaces(t *testing.T) {
	rec := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(rec.Tracker))))
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "mine")
	s, err := cc.NewStream(ctx, watchDesc, watchMethod)
	if err != nil {
		t.Fatal(err)
	}
	if s.Context().Value(key{}) != "mine" {
		t.Error("Context() does not derive from the caller's context")
	}
	if err := s.SendMsg(&healthpb.HealthCheckRequest{Service: "count=1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	md, err := s.Header()
	if err != nil {
		t.Fatalf("Header: %v", err)
	}
	if len(md.Get("content-type")) == 0 {
		t.Errorf("Header() = %v, want gRPC's response headers", md)
	}
	if err := drain(s); err != io.EOF {
		t.Fatalf("drain: %v", err)
	}
	if tr := s.Trailer(); tr == nil {
		t.Error("Trailer() = nil after the stream ended")
	}
	l := rec.one(t)
	if l.Outcome != otelguard.OutcomeCleaned || attr(l, "rpc.response.status_code") != "OK" {
		t.Errorf("outcome %s, code %q; want cleaned, OK", l.Outcome, attr(l, "rpc.response.status_code"))
	}
}

// TestOpenFails: a stream that fails to open returns gRPC's error and its
// lifetime ends at once, cleaned, with the status.
func TestOpenFails(t *testing.T) {
	rec := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(rec.Tracker))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "hold"})
	if status.Code(err) != codes.Canceled {
		t.Fatalf("Watch with a cancelled context: %v, want Canceled", err)
	}
	if live := rec.Live(); len(live) != 0 {
		t.Errorf("%d lifetimes open after the failed open, want 0", len(live))
	}
	l := rec.one(t)
	if l.Outcome != otelguard.OutcomeCleaned || attr(l, "rpc.response.status_code") != "Canceled" {
		t.Errorf("outcome %s, code %q; want cleaned, Canceled", l.Outcome, attr(l, "rpc.response.status_code"))
	}
}

// TestManyStreamsFinishedNeverReported: streams drained by many goroutines
// at once all end cleaned, none reported, none left open.
func TestManyStreamsFinishedNeverReported(t *testing.T) {
	rec := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(rec.Tracker))))
	const goroutines, each = 8, 25
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() {
			for range each {
				s, err := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "count=2"})
				if err == nil {
					err = drain(s)
				}
				if !errors.Is(err, io.EOF) {
					errs <- err
					return
				}
				runtime.GC() // give the collector every chance to misjudge
			}
			errs <- nil
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ls, err := rec.find()
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if len(ls) != goroutines*each {
		t.Fatalf("%d lifetimes ended, want %d", len(ls), goroutines*each)
	}
	for _, l := range ls {
		if l.Outcome != otelguard.OutcomeCleaned {
			t.Fatalf("a drained stream ended %s", l.Outcome)
		}
	}
}

// Without WithTracker, a stream is recorded by the Tracker its context
// carries.
func TestClientTrackerFromContext(t *testing.T) {
	tr := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor()))
	ctx := otelguard.ContextWithTracker(context.Background(), tr.Tracker)
	if err := drain(watch(t, ctx, cc, "count=1")); err != io.EOF {
		t.Fatal(err)
	}
	if l := tr.one(t); l.Outcome != otelguard.OutcomeCleaned {
		t.Errorf("outcome %s, want cleaned", l.Outcome)
	}
}

// Tracker.CloseAll releases an open stream as it releases any lifetime:
// the stream's context is cancelled, and its reader gets Canceled.
func TestCloseAllCancelsOpenStreams(t *testing.T) {
	tr := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker))))
	s := watch(t, context.Background(), cc, "hold")
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := tr.CloseAll(ctx); err != nil {
		t.Fatalf("CloseAll: %v", err)
	}
	if err := drain(s); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after CloseAll: %v, want Canceled", err)
	}
	l := tr.one(t)
	if l.Outcome != otelguard.OutcomeCleaned || l.Trigger != otelguard.TriggerShutdown {
		t.Errorf("outcome %s, trigger %s; want cleaned, shutdown", l.Outcome, l.Trigger)
	}
}

// A stream kept and never finished is not a leak — the collector cannot
// tell it from one still in use — so it stays open, where Live and Find
// show it, until its context ends it.
func TestKeptStreamStaysOpen(t *testing.T) {
	tr := newLeakTracker(t)
	cc := dial(t, newServer(t, nil), grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor(guardgrpc.WithTracker(tr.Tracker))))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := watch(t, ctx, cc, "silent")
	err := otelguardtest.Find(tr.Tracker, otelguardtest.MaxRetries(2))
	if err == nil || !strings.Contains(err.Error(), `"grpc.client.stream": open`) {
		t.Errorf("Find = %v, want the stream open", err)
	}
	if ls := tr.exp.Lifetimes(); len(ls) != 0 {
		t.Errorf("lifetimes ended while the stream is kept: %v", outcomes(ls))
	}
	cancel()
	l := tr.one(t)
	if l.Outcome != otelguard.OutcomeCleaned || attr(l, "rpc.response.status_code") != "Canceled" {
		t.Errorf("%s, %q; want cleaned, Canceled", l.Outcome, attr(l, "rpc.response.status_code"))
	}
	runtime.KeepAlive(s)
}
