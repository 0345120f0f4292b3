package guardhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// waitTimeout bounds every wait of these tests for another goroutine.
const waitTimeout = 10 * time.Second

// newServer starts h on 127.0.0.1, closed when the test ends.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// hello answers every request with a short body, of a known length.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello, world\n")
})

// newBase returns a transport of the test's own: its connection pool is
// the test's, so whether a connection is reused says something.
func newBase(t testing.TB) *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return base
}

// leakTracker is a Tracker whose spans a memory exporter records as they
// end, for the tests that leak on purpose (otelguardtest.NewTracker would
// fail them, rightly).
type leakTracker struct {
	*otelguard.Tracker
	exp *memory.Exporter
	tp  *sdktrace.TracerProvider
}

func newLeakTracker(t testing.TB, opts ...otelguard.Option) *leakTracker {
	t.Helper()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := otelguard.New(append([]otelguard.Option{otelguard.WithTracerProvider(tp)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return &leakTracker{Tracker: tr, exp: exp, tp: tp}
}

// collectLeaks forces collections until lt's exporter has want leaked
// lifetimes, a bounded number of times, waiting after each for the
// reports (and, with ReleaseOnLeak, the releases) to finish.
func collectLeaks(t testing.TB, lt *leakTracker, want int) {
	t.Helper()
	for i := 0; i < 200 && len(lt.exp.Leaks()) < want; i++ {
		runtime.GC()
		runtime.Gosched()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := lt.Flush(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	if got := len(lt.exp.Leaks()); got != want {
		t.Fatalf("%d leaks after 200 collections, want %d", got, want)
	}
}

// getReused makes a GET with client and reports whether it went over a
// connection that had been used before (httptrace's GotConnInfo.Reused).
// It reads the body to its end and closes it.
func getReused(t testing.TB, ctx context.Context, client *http.Client, url string) bool {
	t.Helper()
	var reused, got bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused, got = info.Reused, true },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Fatal("GotConn was not called")
	}
	return reused
}

// bareReused reports whether, through a bare transport of the test's own,
// the connection of a GET of url whose body is closed after n bytes were
// read serves the next request. That is net/http's own answer — Go 1.26
// closes such a connection, Go 1.27 may read the rest and keep it — which
// NewTransport must give too: it changes nothing in how the Transport
// treats its connections.
func bareReused(t testing.TB, url string, n int) bool {
	t.Helper()
	client := &http.Client{Transport: newBase(t)}
	resp := get(t, context.Background(), client, url)
	if _, err := io.ReadFull(resp.Body, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return getReused(t, context.Background(), client, url)
}

// get makes a GET with ctx and returns the response; the caller closes it.
func get(t testing.TB, ctx context.Context, client *http.Client, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// attrs is a span's attributes by key.
func attrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// only returns the one lifetime named name among ls, failing otherwise.
func only(t testing.TB, ls []memory.Lifetime, name string) memory.Lifetime {
	t.Helper()
	var found []memory.Lifetime
	for _, l := range ls {
		if l.Name == name {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lifetimes named %q, want 1 (all: %v)", len(found), name, names(ls))
	}
	return found[0]
}

func names(ls []memory.Lifetime) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name+":"+string(l.Outcome))
	}
	return out
}

// firstFunction is the function of a stack's first frame (Go traceback
// format), without its package path.
func firstFunction(stack string) string {
	fn, _, _ := strings.Cut(stack, "\n")
	fn = strings.TrimSuffix(fn, "(...)")
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	return fn
}

// spanByName returns the one span named name, failing otherwise.
func spanByName(t testing.TB, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(found), name)
	}
	return found[0]
}

// waitClosed waits for ch to be closed, failing with what if it is not
// within waitTimeout.
func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("gave up after %v waiting for %s", waitTimeout, what)
	}
}
