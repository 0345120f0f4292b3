// Package guardhttp makes the lifetimes of net/http observable with
// otelguard: on the client, every response body is a watched lifetime; on
// the server, every request reports what it left open when its handler
// returns.
//
// # Client: NewTransport
//
// The leak Go services hit most is a response body that is never closed:
// its connection is never reused, and under load the client runs out of
// sockets. otelhttp's client span simply never ends then, and nobody is
// told. A client built on NewTransport makes each response body a
// Resource lifetime named "http.response.body", with the request's
// method, server address and port and the response's status code:
//
//	client := &http.Client{Transport: guardhttp.NewTransport(nil)}
//	resp, err := client.Get(url)
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close() // span http.response.body: cleaned, otelguard.http.body.drained=…
//
// Close ends it cleaned, with otelguard.http.body.drained saying whether
// the body was read to its end first: Go's Transport is sure to reuse a
// connection only then (Go 1.26 closes it otherwise), so drained=false on
// a busy path is likely a connection thrown away per request. A response dropped without Close is found by otelguard's
// leak detection at a garbage collection after it became unreachable, and
// ends leaked_without_close with the stack of the code that called the
// client; the body is closed then (after reading what is left of it, up
// to 2 KiB, as http.Client does for a redirect), so that its connection is
// freed — WithoutReleaseOnLeak turns that off.
//
// # When a miss is reported, and the detection matrix
//
// A body dropped without Close ends leaked_without_close — a missed
// close — at the first garbage collection after the response became
// unreachable (within WithLeakCheckInterval in a process that does not
// allocate), with the stack of the line that called the client. A body
// read to its end but never closed is reported the same way, with
// otelguard.http.body.drained=true: net/http's contract asks for Close, and
// drained=true says the connection itself was reused. The caller gets a
// shallow copy of the transport's *http.Response, whose Body is the
// wrapper: net/http's chunked and HTTP/2 bodies point back to the
// response they came in, and a wrapper in that response would be
// reachable from its own lifetime's value, never collected.
//
// matrix_test.go holds each cell to that, on loopback HTTP/1.1 and
// HTTP/2 servers (docs/guardhttp.md has the table):
//
//	response                          dropped / read to EOF, not closed   closed
//	Content-Length small and large    leak (drained=false / true)         never reported
//	chunked small and large           leak                                never reported
//	gzip decoded by the Transport     leak                                never reported
//	HTTP/2 small and large            leak                                never reported
//	redirect chain                    leak of the final body              never reported
//	client with a Timeout             leak                                never reported
//	HEAD, 204, 304                    no body, no lifetime: nothing to leak, nothing left open
//
// No cell of the matrix goes unfound. A response kept reachable (stored
// in a long-lived structure) is not garbage: the hold threshold,
// NewHandler's request check and the live view name it.
//
// # Server: NewHandler
//
// NewHandler gives each request a context carrying the Tracker and an
// otelguard.Request. Every lifetime acquired with that context (or one
// derived from it) through otelguard's package-level functions belongs to
// the request; when the handler returns, each one still open is reported
// at once, deterministically, without waiting for a garbage collection: a
// span event otelguard.request.outlived, a warning through the Tracker's
// logger and a count in otelguard.lifetime.outlived_request, labelled with
// the request's method and route. goleak checks a test for goroutines left
// running; NewHandler checks each request for lifetimes left open.
// Lifetimes meant to outlive the request are acquired with
// otelguard.OutlivesRequest().
//
// Response bodies are lifetimes like any other: a handler that calls an
// upstream through NewTransport with the request's context and returns
// without closing the upstream's body is reported when it returns, long
// before a collection would find the body.
//
// # With otelhttp
//
// Both compose with otelhttp in either order. A response body's lifetime
// is a child of the span in the context of the request as the innermost
// RoundTripper returned it, so it nests under otelhttp's client span
// whether otelhttp wraps NewTransport or NewTransport wraps otelhttp. A
// handler's lifetimes nest under otelhttp's server span when otelhttp's
// handler wraps NewHandler.
//
// # Who calls what
//
// NewTransport and NewHandler are called once, when a client or server is
// built; what they return is safe for concurrent use. Nothing here blocks
// on an exporter or starts a goroutine per request; a body's Close runs
// the original Close on the calling goroutine and returns its error.
// Leak detection reports, and releases, on a goroutine of otelguard's own.
//
// # Cost
//
// One otelguard lifetime per response body (a span with four semconv
// attributes, the acquire stack captured past net/http's frames, leak
// detection, the registry) and one wrapper allocation. Recording every
// span, at the default leak detection: a GET over loopback, read and
// closed, is 1.35× the same GET through the bare transport (one raw span
// per body alone is 1.09×; the ≤ 1.10× target is missed); without the
// network NewTransport adds about 9 µs per request, a raw span 3 µs; in a
// CPU profile a quarter of NewTransport's time on the calling goroutine is
// the stack's capture (runtime.Callers unwinding net/http's large
// functions), the span's Start and End most of the rest. A request served
// through NewHandler whose handler holds one lifetime is about 1.08× the
// bare handler over loopback. Against what users already run — inside
// otelhttp.NewTransport, against otelhttp alone, metrics on — a loopback
// GET is 1.47× (2 KiB) and 1.25× (64 KiB): the ≤ 1.10× target is missed
// (make bench-pairs, run C; the runs, their spreads and the profiles are
// in the repository's docs/PERFORMANCE.md).
package guardhttp
