package guardhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// bodyState is the value side of a response body's lifetime: the body the
// base RoundTripper returned and what the release needs to know. It never
// refers to the Resource nor to the wrapper the caller holds, so that leak
// detection sees the wrapper become unreachable when the caller drops the
// response.
type bodyState struct {
	rc io.ReadCloser
	// eof is set when a read returned io.EOF (or WriteTo returned without
	// error): the body was read to its end.
	eof atomic.Bool
	// drainOnLeak: the release of a body found dropped (trigger gc) first
	// reads what is left of it, up to leakDrainLimit, as http.Client does
	// with a redirect's body, so that the connection goes back to the
	// pool.
	drainOnLeak bool
}

// leakDrainLimit is what a release for a dropped body reads at most before
// closing it: net/http's Client reads as much of a redirect's body
// (maxBodySlurpSize), for the same reason.
const leakDrainLimit = 2 << 10

func (s *bodyState) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	if err == io.EOF {
		s.eof.Store(true)
	}
	return n, err
}

// releaseBody is a response body's release: it closes the body and
// records on the lifetime's span whether the body was read to its end.
//
// otelguard.WithAttributes sets attributes when a lifetime starts, but
// whether a body was drained is known only when it is closed: the release
// sets it as an end-of-lifetime attribute (setEndAttributes). On an
// unsampled span that does nothing, at no cost; the attribute comes from
// one of two slices made once, since a variadic call through the
// trace.Span interface would allocate its argument on every call.
//
// Only a leak's release drains the body: nobody holds it then. A Close
// has its caller's reading to go by, and Tracker.CloseAll (trigger
// shutdown) may release a body that its caller is still reading, whose
// data a drain would take from under it: both only close it.
func releaseBody(ctx context.Context, s *bodyState) error {
	if s.drainOnLeak {
		if trig, _ := otelguard.ReleaseTrigger(ctx); trig == otelguard.TriggerGC {
			drain(ctx, s)
		}
	}
	drained := notDrained
	if s.eof.Load() {
		drained = wasDrained
	}
	setEndAttributes(ctx, drained...)
	return s.rc.Close()
}

var (
	wasDrained = []attribute.KeyValue{DrainedKey.Bool(true)}
	notDrained = []attribute.KeyValue{DrainedKey.Bool(false)}
)

// drain reads what is left of a dropped body, up to leakDrainLimit. A read
// that blocks (a server that stalls mid-body) is ended by closing the body
// when ctx is done: the release of a leak runs on a context bounded by the
// Tracker's cleanup timeout, and nothing may hold it longer.
func drain(ctx context.Context, s *bodyState) {
	stop := context.AfterFunc(ctx, func() { _ = s.rc.Close() })
	defer stop()
	_, _ = io.CopyN(io.Discard, s, leakDrainLimit)
}

// body is the response body the caller gets: reads go straight to the
// original, Close ends the lifetime. Variants below add the interfaces the
// original has (io.WriterTo, io.Writer for 101 Switching Protocols,
// CloseWrite).
type body struct {
	res *otelguard.Resource[*bodyState]
	s   *bodyState
	// orig is the response the base returned; out is the copy the
	// caller gets (see transport.watch), allocated with the wrapper, its
	// Body the wrapper itself. At EOF, the trailers net/http stored in
	// orig are given to out. Only the wrapper refers to them; the value
	// (s) must not, or the wrapper would be reachable from it.
	orig *http.Response
	out  http.Response
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.s.Read(p)
	if err == io.EOF {
		b.eof()
	}
	return n, err
}

// eof gives the caller's response the trailers, which net/http stores in
// the original response when the body reaches its end; the caller reads
// them after Read returned io.EOF, on its own goroutine, as net/http says.
func (b *body) eof() {
	b.out.Trailer = b.orig.Trailer
}

// Close ends the lifetime: the release closes the original body (on this
// goroutine, as a direct Close would) and the span ends cleaned, or failed
// with the error the original's Close returns, which Close returns too. A
// second Close, or a Close after Tracker.CloseAll released the body, goes
// to the original body, which answers as it answers a repeated Close
// (net/http's bodies: nil).
func (b *body) Close() error {
	// context.Background: Close is called without a context, and the
	// request's may be done by now, which would only make the release run
	// detached for nothing (the original's Close takes no context).
	err := b.res.Close(context.Background())
	if errors.Is(err, otelguard.ErrClosed) {
		return b.s.rc.Close()
	}
	return err
}

// bodyWriterTo keeps the original's io.WriterTo (io.Copy uses it).
type bodyWriterTo struct{ body }

func (b *bodyWriterTo) WriteTo(w io.Writer) (int64, error) {
	n, err := b.s.rc.(io.WriterTo).WriteTo(w)
	if err == nil { // WriteTo returns nil at EOF
		b.s.eof.Store(true)
		b.eof()
	}
	return n, err
}

// bodyRWC keeps the original's io.Writer: a 101 Switching Protocols
// response's body is the connection, an io.ReadWriteCloser.
type bodyRWC struct{ body }

func (b *bodyRWC) Write(p []byte) (int, error) { return b.s.rc.(io.Writer).Write(p) }

// bodyRWCCloseWrite also keeps CloseWrite (net/http's 101 body has it;
// httputil.ReverseProxy calls it to half-close an upgraded connection).
type bodyRWCCloseWrite struct{ bodyRWC }

func (b *bodyRWCCloseWrite) CloseWrite() error {
	return b.s.rc.(interface{ CloseWrite() error }).CloseWrite()
}

// wrap returns the response to give the caller: a copy of orig whose
// Body is the variant of the wrapper that has the original's interfaces,
// both in one allocation.
// Each variant is allocated in its own branch: returning &b of a local
// shared by the branches would allocate it too, a second allocation for a
// body with io.WriterTo.
func wrap(res *otelguard.Resource[*bodyState], s *bodyState, orig *http.Response) *http.Response {
	var b *body
	var rc io.ReadCloser
	switch orc := s.rc.(type) {
	case io.ReadWriteCloser:
		if _, ok := orc.(interface{ CloseWrite() error }); ok {
			w := &bodyRWCCloseWrite{bodyRWC{body{res: res, s: s, orig: orig}}}
			b, rc = &w.body, w
			break
		}
		w := &bodyRWC{body{res: res, s: s, orig: orig}}
		b, rc = &w.body, w
	case io.WriterTo:
		w := &bodyWriterTo{body{res: res, s: s, orig: orig}}
		b, rc = &w.body, w
	default:
		b = &body{res: res, s: s, orig: orig}
		rc = b
	}
	b.out = *orig
	b.out.Body = rc
	return &b.out
}
