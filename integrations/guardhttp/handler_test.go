package guardhttp_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// syncBuffer is a bytes.Buffer that a logger may write to from a server's
// goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func nop(context.Context, string) error { return nil }

// returnedSignal wraps h so that each request sends on the returned
// channel once h has returned: by then NewHandler has ended its request.
func returnedSignal(h http.Handler) (http.Handler, <-chan struct{}) {
	returned := make(chan struct{}, 16)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { returned <- struct{}{} }()
		h.ServeHTTP(w, r)
	}), returned
}

func waitReturned(t *testing.T, returned <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	go func() { <-returned; close(done) }()
	waitClosed(t, done, "the handler to return")
}

// A lifetime acquired with the request's context and still open when the
// handler returns is reported then — counter, warning, and, on its span,
// the event with the request's method and route — without a collection,
// and stays open. One closed in time, or acquired with OutlivesRequest, is
// not reported. The handler finds the Tracker in its context.
func TestHandlerReportsWhatOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	reader := sdkmetric.NewManualReader()
	tr := newLeakTracker(t,
		otelguard.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	kept := make(chan *otelguard.Resource[string], 2)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if got := otelguard.TrackerFrom(ctx); got != tr.Tracker {
			t.Errorf("the request's context carries Tracker %p, want %p", got, tr.Tracker)
		}
		closed := otelguard.Acquire(ctx, "items.lock", "l", nop)
		_ = closed.Close(ctx)
		kept <- otelguard.Acquire(ctx, "items.cursor", "c", nop) // left open: outlives the request
		kept <- otelguard.Acquire(ctx, "items.pool.conn", "p", nop, otelguard.OutlivesRequest())
		_, _ = io.WriteString(w, "ok")
	})
	h, returned := returnedSignal(guardhttp.NewHandler(mux, guardhttp.WithTracker(tr.Tracker)))
	srv := newServer(t, h)

	resp, err := http.Get(srv.URL + "/items/42")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	waitReturned(t, returned)

	// Reported at once: the counter and the warning are there before any
	// collection, and the lifetime is still open.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := outlivedCounts(rm)
	want := attribute.NewSet(attrkey.Kind.String("resource"), attrkey.Name.String("items.cursor"),
		semconv.HTTPRequestMethodGet, semconv.HTTPRoute("/items/{id}"))
	if n := counts[want]; n != 1 || len(counts) != 1 {
		t.Errorf("%s = %v, want 1 for %v and nothing else", attrkey.MetricOutlivedRequest, counts, want.Encoded(attribute.DefaultEncoder()))
	}
	log := logs.String()
	for _, s := range []string{`level=WARN msg="otelguard: lifetime outlived its request"`, "otelguard.name=items.cursor",
		"http.request.method=GET", "http.route=/items/{id}", "code.stacktrace.0=\"github.com/otelguard/otelguard-go/integrations/guardhttp_test.TestHandlerReportsWhatOutlivesTheRequest.func"} {
		if !strings.Contains(log, s) {
			t.Errorf("the log has no %s:\n%s", s, log)
		}
	}
	if strings.Count(log, "outlived its request") != 1 {
		t.Errorf("the log reports other lifetimes:\n%s", log)
	}
	open := map[string]bool{}
	for _, l := range tr.Live() {
		open[l.Name] = true
	}
	if !open["items.cursor"] || !open["items.pool.conn"] || len(open) != 2 {
		t.Errorf("open after the request: %v, want items.cursor and items.pool.conn", open)
	}

	for range 2 {
		_ = (<-kept).Close(context.Background())
	}
	ls := tr.exp.Lifetimes()
	if got := outlivedEvent(only(t, ls, "items.cursor")); got == nil {
		t.Error("items.cursor's span has no otelguard.request.outlived event")
	} else if got[semconv.HTTPRequestMethodKey].AsString() != "GET" || got[semconv.HTTPRouteKey].AsString() != "/items/{id}" {
		t.Errorf("the event's attributes %v, want the request's method and route", got)
	}
	if l := only(t, ls, "items.cursor"); l.Outcome != otelguard.OutcomeCleaned {
		t.Errorf("items.cursor %s, want cleaned: being reported leaves the outcome alone", l.Outcome)
	}
	for _, n := range []string{"items.lock", "items.pool.conn"} {
		if outlivedEvent(only(t, ls, n)) != nil {
			t.Errorf("%s was reported as outliving its request", n)
		}
	}
}

// outlivedCounts reads otelguard.lifetime.outlived_request by attribute set.
func outlivedCounts(rm metricdata.ResourceMetrics) map[attribute.Set]int64 {
	out := map[attribute.Set]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != attrkey.MetricOutlivedRequest {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				out[p.Attributes] += p.Value
			}
		}
	}
	return out
}

// outlivedEvent returns the attributes of the lifetime's
// otelguard.request.outlived event, or nil.
func outlivedEvent(l memory.Lifetime) map[attribute.Key]attribute.Value {
	for _, e := range l.Span.Events {
		if e.Name == attrkey.EventOutlived {
			return attrs(e.Attributes)
		}
	}
	return nil
}

// A handler that calls an upstream through NewTransport with its request's
// context and returns without closing the upstream's body is reported when
// it returns, long before a collection could find the body.
func TestHandlerReportsAnUpstreamBodyLeftOpen(t *testing.T) {
	t.Parallel()
	rec := otelguardtest.NewTracker(t)
	upstream := newServer(t, hello)
	client := &http.Client{Transport: guardhttp.NewTransport(newBase(t))}
	bodies := make(chan io.ReadCloser, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /proxy", func(w http.ResponseWriter, r *http.Request) {
		resp := get(t, r.Context(), client, upstream.URL)
		bodies <- resp.Body // forgotten: never closed before the handler returns
		w.WriteHeader(resp.StatusCode)
	})
	h, returned := returnedSignal(guardhttp.NewHandler(mux, guardhttp.WithTracker(rec.Tracker)))
	srv := newServer(t, h)

	resp, err := http.Get(srv.URL + "/proxy")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	waitReturned(t, returned)
	live := rec.Tracker.Live()
	if len(live) != 1 || live[0].Name != guardhttp.LifetimeName {
		t.Fatalf("open after the request: %+v, want the upstream's body", live)
	}
	_ = (<-bodies).Close()
	l := only(t, rec.Lifetimes(), guardhttp.LifetimeName)
	if a := outlivedEvent(l); a == nil || a[semconv.HTTPRouteKey].AsString() != "/proxy" {
		t.Errorf("the upstream body's span: outlived event %v, want one with http.route=/proxy", a)
	}
	if l.Outcome != otelguard.OutcomeCleaned {
		t.Errorf("outcome %s, want cleaned", l.Outcome)
	}
}

// The Tracker: WithTracker's, else the one the request's context carries
// (here from the server's BaseContext), else otelguard.Default(); the
// handler always finds it with TrackerFrom.
func TestHandlerTrackerPrecedence(t *testing.T) {
	t.Parallel()
	rec := otelguardtest.NewTracker(t)
	named := otelguard.New()
	for _, c := range []struct {
		name string
		base *otelguard.Tracker
		opts []guardhttp.Option
		want *otelguard.Tracker
	}{
		{"WithTracker", rec.Tracker, []guardhttp.Option{guardhttp.WithTracker(named)}, named},
		{"context", rec.Tracker, nil, rec.Tracker},
		{"WithTracker(nil)", rec.Tracker, []guardhttp.Option{guardhttp.WithTracker(nil)}, rec.Tracker},
		{"Default", nil, nil, otelguard.Default()},
	} {
		got := make(chan *otelguard.Tracker, 1)
		h := guardhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- otelguard.TrackerFrom(r.Context())
		}), c.opts...)
		srv := httptest.NewUnstartedServer(h)
		srv.Config.BaseContext = func(net.Listener) context.Context {
			return otelguard.ContextWithTracker(context.Background(), c.base)
		}
		srv.Start()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		srv.Close()
		if g := <-got; g != c.want {
			t.Errorf("%s: the handler's context carries %p, want %p", c.name, g, c.want)
		}
	}
}

// http.route: from the pattern the mux sets when NewHandler wraps it, or
// set already when NewHandler sits inside it; left out without a pattern.
// The method is known or _OTHER. A panicking handler's request is ended
// too.
func TestHandlerRouteAndMethod(t *testing.T) {
	t.Parallel()
	kept := make(chan *otelguard.Resource[string], 1)
	leave := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept <- otelguard.Acquire(r.Context(), "left", "x", nop)
	})
	inside := http.NewServeMux()
	inside.Handle("/in/{x}", guardhttp.NewHandler(leave))
	outside := http.NewServeMux()
	outside.Handle("POST example.com/out/{x}", leave)
	for _, c := range []struct {
		name, method, url string
		h                 func(*otelguard.Tracker) http.Handler
		wantRoute         string
		wantMethod        string
	}{
		{"outside the mux", "POST", "http://example.com/out/1", func(tr *otelguard.Tracker) http.Handler {
			return guardhttp.NewHandler(outside, guardhttp.WithTracker(tr))
		}, "/out/{x}", "POST"},
		{"inside the mux", "GET", "/in/1", func(tr *otelguard.Tracker) http.Handler {
			return withTracker(inside, tr)
		}, "/in/{x}", "GET"},
		{"no mux", "PURGE", "/any", func(tr *otelguard.Tracker) http.Handler {
			return guardhttp.NewHandler(leave, guardhttp.WithTracker(tr))
		}, "", "_OTHER"},
		{"panic", "GET", "/p", func(tr *otelguard.Tracker) http.Handler {
			return guardhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				leave(w, r)
				panic(http.ErrAbortHandler)
			}), guardhttp.WithTracker(tr))
		}, "", "GET"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := otelguardtest.NewTracker(t)
			func() {
				defer func() { _ = recover() }()
				c.h(rec.Tracker).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.url, nil))
			}()
			_ = (<-kept).Close(context.Background())
			a := outlivedEvent(only(t, rec.Lifetimes(), "left"))
			if a == nil {
				t.Fatal("no outlived event")
			}
			if got := a[semconv.HTTPRequestMethodKey].AsString(); got != c.wantMethod {
				t.Errorf("method %q, want %q", got, c.wantMethod)
			}
			route, ok := a[semconv.HTTPRouteKey]
			if c.wantRoute == "" && ok {
				t.Errorf("http.route %q, want none", route.AsString())
			} else if c.wantRoute != "" && route.AsString() != c.wantRoute {
				t.Errorf("http.route %q, want %q", route.AsString(), c.wantRoute)
			}
		})
	}
}

// withTracker gives h's requests a context carrying tr, as a server's
// BaseContext would.
func withTracker(h http.Handler, tr *otelguard.Tracker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(otelguard.ContextWithTracker(r.Context(), tr)))
	})
}

// A multipart form the handler parses is handed back to the request
// net/http gave NewHandler, so that net/http removes its temporary files.
func TestHandlerHandsBackTheMultipartForm(t *testing.T) {
	t.Parallel()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("f", "f.txt")
	_, _ = io.WriteString(fw, strings.Repeat("x", 1<<10))
	_ = mw.Close()
	r := httptest.NewRequest("POST", "/", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	h := guardhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(0); err != nil { // 0: every file part goes to disk
			t.Error(err)
		}
	}), guardhttp.WithTracker(otelguardtest.NewTracker(t).Tracker))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if r.MultipartForm == nil {
		t.Fatal("the form parsed by the handler is not on the original request")
	}
	_ = r.MultipartForm.RemoveAll()
}

// NewHandler(nil) is a programmer error, said at the call.
func TestNewHandlerNilPanics(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.HasPrefix(v.(string), "guardhttp: ") {
			t.Errorf("recovered %v, want a guardhttp: panic", v)
		}
	}()
	guardhttp.NewHandler(nil)
}
