package guardhttp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

func ExampleNewTransport() {
	// A Tracker whose lifetimes are recorded in memory, to print them.
	exp := memory.New()
	tracker := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	defer tracker.Shutdown(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()

	client := &http.Client{Transport: guardhttp.NewTransport(nil)} // nil: http.DefaultTransport
	// The Tracker travels in the request's context; without one there,
	// otelguard.Default() records the body.
	ctx := otelguard.ContextWithTracker(context.Background(), tracker)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		panic(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body) // read to the end: the connection can be reused
	_ = resp.Body.Close()            // ends the lifetime
	fmt.Println(string(body))

	for _, l := range exp.Lifetimes() {
		a := attrs(l.Span.Attributes)
		fmt.Println(l.Name, l.Outcome, a[semconv.HTTPResponseStatusCodeKey].AsInt64(), "drained:", a[guardhttp.DrainedKey].AsBool())
	}
	// Output:
	// hello
	// http.response.body cleaned 200 drained: true
}

func ExampleNewHandler() {
	// The Tracker's warnings, here without their time and acquire stack.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || strings.HasPrefix(a.Key, "code.") || len(groups) > 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	tracker := otelguard.New(otelguard.WithLogger(logger))
	defer tracker.Shutdown(context.Background())

	var cursor *otelguard.Resource[string]
	mux := http.NewServeMux()
	mux.HandleFunc("GET /reports/{id}", func(w http.ResponseWriter, r *http.Request) {
		// The request's context carries the Tracker and the request: no
		// WithTracker here.
		cursor = otelguard.Acquire(r.Context(), "report.cursor", r.PathValue("id"),
			func(context.Context, string) error { return nil })
		pooled := otelguard.Acquire(r.Context(), "db.conn", "primary",
			func(context.Context, string) error { return nil }, otelguard.OutlivesRequest())
		defer pooled.Close(context.Background()) // not reported either way: it may outlive the request
		_, _ = io.WriteString(w, "report\n")
		// cursor.Close forgotten.
	})
	handler := guardhttp.NewHandler(mux, guardhttp.WithTracker(tracker))

	// When ServeHTTP returns, the report has been made: no collection
	// needed, nothing to wait for.
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/reports/7", nil))
	fmt.Println("still open:", len(tracker.Live()))
	_ = cursor.Close(context.Background())
	// Output:
	// level=WARN msg="otelguard: lifetime outlived its request" otelguard.name=report.cursor otelguard.kind=resource http.request.method=GET http.route=/reports/{id}
	// still open: 1
}

func ExampleWithTracker() {
	tracker := otelguard.New()
	defer tracker.Shutdown(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()

	// Every body of this client is tracker's, whatever the request's
	// context carries.
	client := &http.Client{Transport: guardhttp.NewTransport(nil, guardhttp.WithTracker(tracker))}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	for _, l := range tracker.Live() {
		fmt.Println("open:", l.Name)
	}
	_ = resp.Body.Close()
	fmt.Println("open after Close:", len(tracker.Live()))
	// Output:
	// open: http.response.body
	// open after Close: 0
}

// fetchStatus calls the client and forgets the response's body.
//
//go:noinline
func fetchStatus(ctx context.Context, client *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	return resp.StatusCode // resp.Body.Close forgotten
}

func ExampleWithoutReleaseOnLeak() {
	// A Tracker whose lifetimes are recorded in memory, to print them.
	exp := memory.New()
	tracker := otelguard.New(otelguard.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	defer tracker.Shutdown(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // what frees the forgotten body's connection here

	// Report dropped bodies, but leave closing them to someone else.
	client := &http.Client{Transport: guardhttp.NewTransport(nil,
		guardhttp.WithTracker(tracker), guardhttp.WithoutReleaseOnLeak())}
	fmt.Println(fetchStatus(ctx, client, srv.URL))

	// Leak detection runs when the garbage collector finds the dropped
	// response.
	for i := 0; i < 200 && len(exp.Leaks()) == 0; i++ {
		runtime.GC()
		_ = tracker.Flush(context.Background())
	}
	for _, l := range exp.Leaks() {
		caller, _, _ := strings.Cut(l.AcquireStack, "\n")
		fmt.Println("leaked:", l.Name, "released:", l.LeakReleased, "acquired at:", caller)
	}
	// Output:
	// 200
	// leaked: http.response.body released: false acquired at: github.com/otelguard/otelguard-go/integrations/guardhttp_test.fetchStatus(...)
}
