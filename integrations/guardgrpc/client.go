package guardgrpc

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"weak"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// LifetimeName is the name of a client stream's lifetime (its span's name,
// and otelguard.name on its metrics).
const LifetimeName = "grpc.client.stream"

// skipPackages are the packages whose frames lead the stack of a client
// stream's acquire and are not the caller's: this one and gRPC's
// (ClientConn.NewStream and its interceptor chain).
var skipPackages = []string{
	"github.com/otelguard/otelguard-go/integrations/guardgrpc",
	"google.golang.org/grpc",
}

// StreamClientInterceptor returns a grpc.StreamClientInterceptor that makes
// each client stream an otelguard lifetime, a Resource named
// "grpc.client.stream" with rpc.system.name=grpc and rpc.method
// ("package.Service/Method"), started when the stream is opened.
//
// The lifetime ends when gRPC says the stream is finished, and only then:
// RecvMsg returned an error (io.EOF included, and for a stream whose server
// does not stream, its one response), SendMsg returned an error other than
// io.EOF, Header returned an error, the stream's context is done, or the
// ClientConn is closed. It ends cleaned, its span carrying
// rpc.response.status_code (OK, Canceled, NotFound, ...: the status the RPC
// ended with). A stream that fails to open ends at once the same way. A
// context cancelled by the stream's owner is a normal end: the stream is
// not reported.
//
// A stream dropped unfinished — the caller stopped reading before
// RecvMsg's error, and nothing cancels its context — keeps gRPC's goroutine
// for the stream, its context and the call's otelgrpc span alive until the
// ClientConn closes. otelguard's leak detection finds it when the garbage
// collector finds the stream unreachable: the lifetime ends
// leaked_without_close, with the acquire stack of the code that opened the
// stream (past gRPC's frames and this package's; WithCallerSkipPackages
// names more, such as your generated code's package), and, by default, the
// stream's context is cancelled then, so that gRPC finishes the stream and
// its goroutine exits (otelguard.ReleaseOnLeak; WithoutReleaseOnLeak turns
// it off). The stream is judged when the collector finds it: one whose
// context was done, or whose ClientConn was closed, before it was dropped
// ends cleaned, not leaked. A dropped stream is found after two
// collections: the first finds the wrapper and judges it, the second lets
// leak detection report it. A stream still referenced — held in a struct,
// or by a goroutine blocked in RecvMsg — is not a leak; it stays open
// (Tracker.Live, a hold threshold and Shutdown show it); so does a stream
// referenced from its own context (a context value holding it), which gRPC
// keeps reachable. Tracker.CloseAll releases an open stream as any
// lifetime: it cancels the stream's context (trigger shutdown), and the
// caller's next RecvMsg returns Canceled.
//
// The stream the caller gets is a wrapper: Header, Trailer, CloseSend,
// Context, SendMsg and RecvMsg go to gRPC's stream unchanged. The wrapper
// is the only strong reference to the lifetime; gRPC's own references to
// the stream reach neither.
//
// The lifetime is recorded by the Tracker WithTracker names, else the one
// in the stream's context, else otelguard.Default(). A stream opened with
// the context of a server RPC (UnaryServerInterceptor,
// StreamServerInterceptor) or of an HTTP request (guardhttp.NewHandler)
// belongs to its Request: still open when the handler returns, it is
// reported then.
//
// The interceptor is safe for concurrent use. Each stream costs one
// lifetime (a span, an acquire stack, leak detection), a context of its own
// (not with WithoutReleaseOnLeak), a weak pointer, a runtime cleanup, a
// grpc.OnFinish call option and the wrapper; see BenchmarkPairGRPC. Unary calls
// do not go through a stream interceptor and cost nothing.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	cfg := newConfig(opts)
	skip := append(skipPackages[:len(skipPackages):len(skipPackages)], cfg.skip...)
	acq := []otelguard.AcquireOption{otelguard.WithCallerSkipPackages(skip...)}
	if cfg.tracker != nil {
		acq = append(acq, otelguard.WithTracker(cfg.tracker))
	}
	if !cfg.noLeakRelease {
		acq = append(acq, otelguard.ReleaseOnLeak())
	}
	i := &clientInterceptor{opts: acq, cancel: !cfg.noLeakRelease}
	return i.intercept
}

// clientInterceptor is what StreamClientInterceptor resolved once.
type clientInterceptor struct {
	// opts are the AcquireOptions every stream gets; intercept adds the
	// stream's attributes.
	opts []otelguard.AcquireOption
	// cancel: give each stream a context of its own, cancelled by the
	// release (ReleaseOnLeak).
	cancel bool
}

// streamState is the value side of a client stream's lifetime. It never
// refers to the watch nor to the wrapper the caller holds, so that leak
// detection can see them become unreachable.
type streamState struct {
	// cancel cancels the stream's context; nil with WithoutReleaseOnLeak.
	cancel context.CancelFunc
	// ended is set by the one call of watch.end: gRPC finished the
	// stream.
	ended atomic.Bool
	// code is the status the stream finished with, set before ended.
	code atomic.Uint32
	// attrs are the span's attributes at start.
	attrs [2]attribute.KeyValue
}

// watch is what ends a client stream's lifetime: the Resource and what
// judge needs to know. The wrapper holds it; a runtime cleanup on the
// wrapper holds it after the wrapper becomes unreachable, until judge
// returns; gRPC's OnFinish callback reaches it through a weak pointer only.
// Nothing it refers to reaches the wrapper.
type watch struct {
	res    *otelguard.Resource[*streamState]
	st     *streamState
	parent context.Context  // the caller's context
	cc     *grpc.ClientConn // nil when the interceptor was not given one
}

func (i *clientInterceptor) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	st := &streamState{}
	sctx := ctx
	if i.cancel {
		sctx, st.cancel = context.WithCancel(ctx)
	}
	// The attributes live in st, which is on the heap anyway: an array of
	// their own would escape through WithAttributes, one more allocation.
	st.attrs = [...]attribute.KeyValue{
		semconv.RPCSystemNameGRPC,
		semconv.RPCMethod(strings.TrimPrefix(method, "/")),
	}
	var aopts [5]otelguard.AcquireOption
	n := copy(aopts[:], i.opts)
	aopts[n] = otelguard.WithAttributes(st.attrs[:]...)
	n++
	for _, o := range callOpts {
		if _, ok := o.(outlivesRequest); ok {
			aopts[n] = otelguard.OutlivesRequest()
			n++
			break
		}
	}
	w := &watch{st: st, parent: ctx, cc: cc}
	w.res = otelguard.Acquire(sctx, LifetimeName, st, releaseStream, aopts[:n]...)

	// gRPC calls OnFinish once, when it finishes the stream for any reason
	// (from RecvMsg, SendMsg or Header on the caller's goroutine, or from
	// its goroutine that watches the context and the ClientConn); also when
	// the stream fails to open. The callback is held by gRPC's stream, which
	// lives until then: it must not hold the watch strongly.
	wp := weak.Make(w)
	onFinish := grpc.OnFinish(func(err error) {
		if w := wp.Value(); w != nil {
			w.end(err)
		}
	})
	// A copy: callOpts' array may be shared with the caller's.
	all := append(callOpts[:len(callOpts):len(callOpts)], onFinish)
	cs, err := streamer(sctx, desc, cc, method, all...)
	if err != nil {
		w.end(err)
		return cs, err
	}
	s := &clientStream{ClientStream: cs, w: w, serverStreams: desc.ServerStreams}
	runtime.AddCleanup(s, judge, w)
	return s, nil
}

// OutlivesRequest returns a grpc.CallOption that says a client stream is
// meant to outlive the otelguard.Request in its context, so that the
// Request's end does not report it (otelguard.OutlivesRequest): a stream
// a server handler opens on a context detached from its RPC's
// (context.WithoutCancel keeps the RPC's values, its Request among them)
// and hands to work that outlasts the RPC. The stream is watched as any
// other. gRPC ignores the option; without StreamClientInterceptor it does
// nothing.
//
//	stream, err := client.Watch(context.WithoutCancel(ctx), req, guardgrpc.OutlivesRequest())
func OutlivesRequest() grpc.CallOption { return outlivesRequest{} }

// outlivesRequest is the CallOption OutlivesRequest returns: gRPC's
// EmptyCallOption, which exists to carry data for interceptors.
type outlivesRequest struct{ grpc.EmptyCallOption }

// errConnClosing is the status gRPC finishes a stream with when its
// ClientConn closes (grpc.ErrClientConnClosing, deprecated for users).
var errConnClosing = status.Error(codes.Canceled, "grpc: the client connection is closing")

// end ends the lifetime as gRPC finished the stream with err, once.
func (w *watch) end(err error) {
	if !w.st.ended.CompareAndSwap(false, true) {
		return
	}
	if err == io.EOF { // RecvMsg's io.EOF: the stream ended with OK, as gRPC's finish reads it
		err = nil
	}
	w.st.code.Store(uint32(status.Code(err)))
	// context.Background: the stream's context may be done (that may be
	// why it finished), which would only make the release run detached.
	_ = w.res.Close(context.Background())
}

// judge runs, on the runtime's cleanup goroutine, when the wrapper the
// caller held has become unreachable. A stream whose context was done or
// whose ClientConn was closed by then is finished (gRPC's OnFinish may not
// have run yet): its lifetime ends normally, on a goroutine of this
// package's, since the runtime's cleanup goroutine must not wait for a
// span processor. Any other stream was dropped unfinished: judge lets go
// of the watch, and leak detection finds its Resource unreachable at a
// following collection and reports it.
func judge(w *watch) {
	if w.st.ended.Load() {
		return
	}
	var err error
	switch {
	case w.parent.Err() != nil:
		err = status.FromContextError(w.parent.Err()).Err()
	case w.cc != nil && w.cc.GetState() == connectivity.Shutdown:
		err = errConnClosing
	default:
		return
	}
	go w.end(err)
}

// releaseStream is a client stream's release: it cancels the stream's
// context, which finishes a stream found dropped, and records on the span
// the status the stream finished with (none for a leak).
func releaseStream(ctx context.Context, s *streamState) error {
	if s.ended.Load() {
		setEndAttributes(ctx, statusAttr(codes.Code(s.code.Load()))...)
	}
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// clientStream is the stream the caller gets. It holds the watch: while the
// caller holds it, the lifetime is not leaked.
type clientStream struct {
	grpc.ClientStream
	w             *watch
	serverStreams bool
}

// RecvMsg implements grpc.ClientStream. An error — io.EOF included — ends
// the stream, as does the one response of a stream whose server does not
// stream. The lifetime ends here, on the caller's goroutine, if gRPC's
// OnFinish has not ended it already; s stays reachable until then.
func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.w.end(err)
	}
	return err
}

// SendMsg implements grpc.ClientStream. An error other than io.EOF ends the
// stream (io.EOF says the server ended it: RecvMsg has its status).
func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		s.w.end(err)
	}
	return err
}

// Header implements grpc.ClientStream. An error ends the stream.
func (s *clientStream) Header() (md metadata.MD, err error) {
	md, err = s.ClientStream.Header()
	if err != nil {
		s.w.end(err)
	}
	return md, err
}

// statusAttrs are rpc.response.status_code for each gRPC code, made once,
// in the form otelgrpc records (codes.Code.String), each in a slice of its
// own: passed on as it is, a variadic call allocates nothing.
var statusAttrs = func() (a [17][1]attribute.KeyValue) {
	for c := range a {
		a[c][0] = semconv.RPCResponseStatusCode(codes.Code(c).String())
	}
	return a
}()

// statusAttr returns rpc.response.status_code for c.
func statusAttr(c codes.Code) []attribute.KeyValue {
	if int(c) < len(statusAttrs) {
		return statusAttrs[c][:]
	}
	return []attribute.KeyValue{semconv.RPCResponseStatusCode(c.String())}
}
