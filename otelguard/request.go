package otelguard

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/stacklog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// A Request is a unit of work — an HTTP request, an RPC, a job — whose
// lifetimes should end with it: goleak's per-test check, applied per
// request, deterministically and without waiting for a collection. Every
// lifetime acquired with the Request's context, or a context derived from
// it, belongs to it (unless acquired with OutlivesRequest). When End is
// called, each one still open is reported at once: a span event
// otelguard.request.outlived on its span (with the Request's attributes),
// a Warn record through its Tracker's logger (with its acquire stack), and
// a count in the otelguard.lifetime.outlived_request counter. Its outcome
// is not changed: it is still open, and ends as it will.
//
// integrations/guardhttp's NewHandler makes one per HTTP request. A
// Request is safe for concurrent use.
type Request struct {
	mu      sync.Mutex
	attrs   []attribute.KeyValue
	members []*lifetime
	ended   bool
}

// requestKey is the context key of a Request.
type requestKey struct{}

// requestsUsed is set once a Request has been made: until then no acquire
// looks for one in its context.
var requestsUsed atomic.Bool

// ContextWithRequest returns a copy of ctx that carries a new Request with
// the given attributes (low-cardinality ones: they label the
// otelguard.lifetime.outlived_request counter too), and the Request. The
// caller calls End when the unit of work is done. A nil ctx is taken as
// context.Background(). A Request in ctx's own ancestry is left as it is:
// a lifetime belongs to the innermost Request.
func ContextWithRequest(ctx context.Context, attrs ...attribute.KeyValue) (context.Context, *Request) {
	if ctx == nil {
		ctx = context.Background()
	}
	requestsUsed.Store(true)
	r := &Request{attrs: append([]attribute.KeyValue(nil), attrs...)}
	return context.WithValue(ctx, requestKey{}, r), r
}

// requestFrom returns the Request ctx carries, or nil.
func requestFrom(ctx context.Context) *Request {
	if ctx == nil || !requestsUsed.Load() {
		return nil
	}
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// join makes l a member of the Request in ctx, if there is one and it has
// not ended.
func (r *Request) join(l *lifetime) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	if len(r.members) == cap(r.members) && len(r.members) >= 64 {
		// A long request that acquires much: let go of what has ended.
		live := r.members[:0]
		for _, m := range r.members {
			if m.state.Load()&stClaimed == 0 {
				live = append(live, m)
			}
		}
		clear(r.members[len(live):])
		r.members = live
	}
	r.members = append(r.members, l)
}

// End ends the Request: each of its lifetimes still open (its release
// neither run nor running) is reported as outliving it — span event,
// Warn record, counter — and returned, in acquire order. attrs are added
// to the Request's attributes first (an HTTP route, known once the request
// has been routed). End is for the code that made the Request; a second
// call reports nothing and returns nil. A nil *Request does nothing.
func (r *Request) End(attrs ...attribute.KeyValue) []LiveLifetime {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return nil
	}
	r.ended = true
	r.attrs = append(r.attrs, attrs...)
	members := r.members
	r.members = nil
	r.mu.Unlock()
	var out []LiveLifetime
	for _, l := range members {
		if l.state.Load()&stClaimed != 0 {
			continue
		}
		l.outlived(r.attrs)
		l.finding(findingOutlived)
		out = append(out, l.live())
	}
	return out
}

// attributes returns a copy of the Request's attributes.
func (r *Request) attributes() []attribute.KeyValue {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attribute.KeyValue(nil), r.attrs...)
}

// outlived reports l as outliving its request.
func (l *lifetime) outlived(attrs []attribute.KeyValue) {
	if l.flags&flRecording != 0 {
		l.span.AddEvent(attrkey.EventOutlived, trace.WithAttributes(attrs...))
	}
	if l.m != nil {
		l.t.meters.recordOutlived(l.m, attrs)
	}
	if lg := l.t.cfg.logger; lg != nil {
		as := make([]slog.Attr, 0, 4+len(attrs))
		as = append(as,
			slog.String(string(attrkey.Name), l.name),
			slog.String(string(attrkey.Kind), string(kindNames[l.kind])))
		for _, kv := range attrs {
			as = append(as, slog.Any(string(kv.Key), kv.Value.AsInterface()))
		}
		as = append(as, stacklog.Attr(string(attrkey.Stacktrace), l.stackText()))
		lg.LogAttrs(context.Background(), slog.LevelWarn, "otelguard: lifetime outlived its request", as...)
	}
}
