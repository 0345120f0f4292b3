package guardhttp

import (
	"net/http"
	"strings"

	"github.com/otelguard/otelguard-go/otelguard"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// handler is the http.Handler NewHandler returns.
type handler struct {
	next http.Handler
	cfg  config
}

// NewHandler returns an http.Handler that serves each request with h,
// giving it a context that carries:
//
//   - the Tracker (otelguard.ContextWithTracker): the one WithTracker
//     names, else the one the request's context already carries, else
//     otelguard.Default(). otelguard's package-level functions given the
//     request's context (or one derived from it) use it without naming it,
//     and so does NewTransport for requests made with it.
//   - an otelguard.Request with the request's http.request.method: every
//     lifetime acquired with that context through the package-level
//     functions belongs to it.
//
// When h returns (or panics), NewHandler ends the Request with the route
// (http.route, from r.Pattern as http.ServeMux sets it when it routes):
// each lifetime of the request still open then is reported at once — no
// garbage collection involved, so a test sees it deterministically when
// the handler has returned: a span event otelguard.request.outlived on the
// lifetime's span with the request's method and route, a warning through
// the Tracker's logger (otelguard.WithLogger) with its acquire stack, and
// a count in otelguard.lifetime.outlived_request {otelguard.kind,
// otelguard.name, http.request.method, http.route}. Its outcome is left
// alone: it is still open, and ends as it will. It is goleak's check per
// test, applied per request.
//
// A lifetime meant to outlive its request — a connection handed to a
// pool, work finished by a goroutine after the response — says so when it
// is acquired, with otelguard.OutlivesRequest(); or it is acquired with a
// context not derived from the request's; or it ends with Detach when it
// is handed over.
//
// For the route to be known, NewHandler must wrap the http.ServeMux (or sit
// inside it, where r.Pattern is set already): a middleware between them
// that passes on a copy of the request (r.WithContext) hides the pattern
// the mux sets on the copy. Without a pattern, http.route is left out.
//
// NewHandler panics if h is nil. The Handler is safe for concurrent use,
// as h must be. A request costs an otelguard.Request and its context
// value, one more context value when the Tracker is not in the request's
// context already, a shallow copy of the *http.Request, and a lock taken
// per lifetime it acquires and once at its end; see BenchmarkHandler.
func NewHandler(h http.Handler, opts ...Option) http.Handler {
	if h == nil {
		panic("guardhttp: NewHandler: nil handler")
	}
	return &handler{next: h, cfg: newConfig(opts)}
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	have := otelguard.TrackerFrom(ctx)
	t := h.cfg.tracker
	if t == nil {
		t = have
		if t == nil {
			t = otelguard.Default()
		}
	}
	if t != have {
		ctx = otelguard.ContextWithTracker(ctx, t)
	}
	ctx, req := otelguard.ContextWithRequest(ctx, method(r.Method))
	rr := r.WithContext(ctx)
	defer func() {
		// As otelhttp does: net/http removes the temporary files of a
		// multipart form parsed on the copy only if it finds the form on
		// the request it gave the handler.
		if rr.MultipartForm != nil {
			r.MultipartForm = rr.MultipartForm
		}
		if route := httpRoute(rr.Pattern); route != "" {
			req.End(semconv.HTTPRoute(route))
		} else {
			req.End()
		}
	}()
	h.next.ServeHTTP(w, rr)
}

// httpRoute is http.route from an http.ServeMux pattern
// ("GET example.com/users/{id}" → "/users/{id}"), as otelhttp derives it.
func httpRoute(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}
