package guardhttp

import (
	"net/http"
	"strconv"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// LifetimeName is the name of a response body's lifetime (its span's
// name, and otelguard.name on its metrics).
const LifetimeName = "http.response.body"

// DrainedKey is set on a response body's span when its lifetime ends:
// true if the body was read to its end before it was closed. Go's
// Transport is sure to put a connection back in its pool for the next
// request only then; Go 1.26 closes the connection of a body closed before
// its end (Go 1.27 may read the rest itself and keep it). For a body
// found dropped, which the Transport closes itself after reading the rest
// (see NewTransport), that reading counts: true says the connection was
// saved. Tracker.CloseAll closes a body without reading it.
const DrainedKey = attribute.Key("otelguard.http.body.drained")

// transport is the RoundTripper NewTransport returns.
type transport struct {
	base http.RoundTripper
	// opts are the AcquireOptions every response body gets, resolved
	// once; watch adds the body's attributes.
	opts []otelguard.AcquireOption
}

// skipPackages are the packages whose frames lead the stack of a
// response body's acquire and are not the caller's: this one, net/http
// (the Client's frames) and otelhttp's Transport, which may wrap this one.
var skipPackages = []string{
	"net/http",
	"github.com/otelguard/otelguard-go/integrations/guardhttp",
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
}

// NewTransport returns an http.RoundTripper that sends each request
// through base (http.DefaultTransport when base is nil) and makes the body
// of each response an otelguard lifetime, a Resource named
// "http.response.body":
//
//   - a child of the span in the request's context as the base returns it
//     (resp.Request's), so it nests under otelhttp's client span whichever
//     of the two wraps the other;
//   - with http.request.method, server.address, server.port and
//     http.response.status_code;
//   - ended by resp.Body.Close: outcome cleaned (failed if the original
//     Close fails), with otelguard.http.body.drained saying whether the
//     body was read to its end first, which is when Go is sure to reuse
//     the connection;
//   - found by leak detection when the response is dropped without Close:
//     outcome leaked_without_close, with an acquire stack whose first
//     frame is the code that called the client (client.Get, client.Do, or
//     RoundTrip itself), not net/http, otelhttp or this package. The body
//     is then closed, after reading what is left of it up to 2 KiB as
//     http.Client does for a redirect, so that a small response's
//     connection goes back to the pool (otelguard.ReleaseOnLeak;
//     WithoutReleaseOnLeak turns it off). Only then: Tracker.CloseAll
//     closes a body still open without reading any of it, since its caller
//     may still be reading it (the caller's next Read fails, as after its
//     own Close; nothing is read from under it).
//
// A RoundTripper of your own that wraps the Transport receives each
// response before the code that called the client, and may be where a
// body is dropped: the stack starts at its frame, with the client's caller
// further down. WithCallerSkipPackages names such packages, once trusted,
// for the stack to start past them.
//
// The lifetime is recorded by the Tracker WithTracker names, else the one
// in the request's context, else otelguard.Default(). A lifetime made
// under a request of NewHandler belongs to it: a body still open when the
// handler returns is reported then.
//
// The body the caller gets keeps the interfaces of the original that
// callers rely on: io.WriterTo when the original has it, io.ReadWriteCloser
// (and CloseWrite) for a 101 Switching Protocols response. A response
// without a body (http.NoBody, as for HEAD or a zero Content-Length) gets
// no lifetime, nor does a request that fails: RoundTrip returns the base's
// error and response as they are. Intermediate responses of a redirect are
// closed by http.Client and end cleaned.
//
// The RoundTripper has CloseIdleConnections, which calls base's when base
// has one, so http.Client.CloseIdleConnections reaches the pool under it.
// otelhttp's Transport (contrib v0.72.0) has none: a Client whose
// Transport is otelhttp's, or a base that is, closes nothing through it;
// call the http.Transport's own CloseIdleConnections then.
//
// The RoundTripper is safe for concurrent use, as base must be. Each
// response with a body costs one lifetime (a span, a stack capture, a
// runtime cleanup) and a few small allocations (the wrapper, its state,
// the attributes); the stack is captured once, the frames to leave out
// told by a per-process cache of their functions
// (otelguard.WithCallerSkipPackages). See BenchmarkTransport.
func NewTransport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	cfg := newConfig(opts)
	skip := append(skipPackages[:len(skipPackages):len(skipPackages)], cfg.skip...)
	acq := []otelguard.AcquireOption{otelguard.WithCallerSkipPackages(skip...)}
	if cfg.tracker != nil {
		acq = append(acq, otelguard.WithTracker(cfg.tracker))
	}
	if !cfg.noLeakRelease {
		acq = append(acq, otelguard.ReleaseOnLeak())
	}
	return &transport{base: base, opts: acq}
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp == nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	return t.watch(r, resp), nil
}

// CloseIdleConnections closes the idle connections of the base
// RoundTripper, when it has a CloseIdleConnections method (http.Transport,
// otelhttp's Transport), and does nothing otherwise. http.Client's
// CloseIdleConnections calls it; without it the Client would find no such
// method on the Transport and close nothing. Safe for concurrent use if
// the base's is; it blocks only as long as the base's does.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// watch makes resp's body a lifetime, and returns the response to give
// the caller: a shallow copy of resp whose Body is the wrapper.
//
// resp itself keeps the original body. net/http's bodies point back to
// the *Response they came with — an HTTP/1 chunked body (to read its
// trailers into it), every HTTP/2 body (its stream holds it) — so a
// wrapper put in resp.Body would be reachable from the lifetime's own
// value (bodyState.rc → body → resp → wrapper), which the Tracker holds
// while the lifetime is open: the wrapper could never be collected and a
// dropped body never found. The copy is reachable from nothing the value
// reaches. Trailers that net/http stores in resp after the copy was made
// reach the copy when the body hits EOF (body.Read).
func (t *transport) watch(r *http.Request, resp *http.Response) *http.Response {
	ctx := r.Context()
	if resp.Request != nil {
		// The request as the innermost RoundTripper saw it: its context
		// has the span of any RoundTripper between (otelhttp's client
		// span), and, derived from r's, r's Tracker and otelguard Request.
		ctx = resp.Request.Context()
	}
	s := &bodyState{
		rc:          resp.Body,
		drainOnLeak: resp.StatusCode != http.StatusSwitchingProtocols && resp.ContentLength <= leakDrainLimit,
	}
	attrs := [...]attribute.KeyValue{
		method(r.Method),
		semconv.ServerAddress(r.URL.Hostname()),
		semconv.ServerPort(port(r)),
		semconv.HTTPResponseStatusCode(resp.StatusCode),
	}
	var opts [4]otelguard.AcquireOption
	n := copy(opts[:], t.opts)
	opts[n] = otelguard.WithAttributes(attrs[:]...)
	res := otelguard.Acquire(ctx, LifetimeName, s, releaseBody, opts[:n+1]...)
	return wrap(res, s, resp)
}

// method is http.request.method as the semantic conventions give it: one
// of the known methods, else _OTHER, so that a label stays low-cardinality.
func method(m string) attribute.KeyValue {
	switch m {
	case http.MethodGet:
		return semconv.HTTPRequestMethodGet
	case http.MethodPost:
		return semconv.HTTPRequestMethodPost
	case http.MethodPut:
		return semconv.HTTPRequestMethodPut
	case http.MethodDelete:
		return semconv.HTTPRequestMethodDelete
	case http.MethodHead:
		return semconv.HTTPRequestMethodHead
	case http.MethodPatch:
		return semconv.HTTPRequestMethodPatch
	case http.MethodOptions:
		return semconv.HTTPRequestMethodOptions
	case http.MethodConnect:
		return semconv.HTTPRequestMethodConnect
	case http.MethodTrace:
		return semconv.HTTPRequestMethodTrace
	case "":
		return semconv.HTTPRequestMethodGet // net/http: "" means GET
	}
	return semconv.HTTPRequestMethodOther
}

// port is the request's server port: the URL's, else the scheme's.
func port(r *http.Request) int {
	if p := r.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	if r.URL.Scheme == "https" {
		return 443
	}
	return 80
}
