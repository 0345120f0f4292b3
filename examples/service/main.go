// Command service is a small HTTP service whose fake database connection
// pool is guarded by otelguard, with one handler per story a tracing
// backend should be able to tell:
//
//	GET /query     a clean request: db.conn cleaned
//	GET /leak      a handler that forgets Close: db.conn leaked_without_close,
//	               found by the garbage collector, its stack naming handleLeak
//	GET /report    a slow release kept off the request path with CloseAsync:
//	               db.conn cleaned after ~150ms, ending after its request
//	GET /poll      a long poll its client cancels: db.conn released by
//	               CloseOnCancel, trigger cancel
//	GET /transfer  a transaction rolled back by a Guard unless committed:
//	               tx.rollback disarmed (?fail=1: rolled back, cleaned)
//
// Requests are server spans (otelhttp), and every lifetime is acquired with
// the request's context, so it is a child of its request's span.
//
// Spans are exported through go.opentelemetry.io/contrib/exporters/autoexport,
// as the standard OTEL_* variables say; the service name is
// otelguard-service unless OTEL_SERVICE_NAME says otherwise. With Jaeger
// running (make jaeger):
//
//	OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
//	go run ./examples/service -selftest 5
//
// sends 5 requests of each story to the service itself over loopback, has
// the garbage collector find the leaks, and exits. Without -selftest it
// serves on -addr until SIGINT or SIGTERM. Either way it shuts down in
// order: the server, then the Tracker (what is still open is reported, the
// releases in flight are waited for), then the TracerProvider (the spans
// are flushed), so nothing is lost. A backend that is down costs the
// requests nothing: spans are batched off the request path, and the final
// flush gives up after shutdownTimeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// shutdownTimeout bounds each step of the shutdown.
const shutdownTimeout = 5 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "`address` to listen on")
	n := flag.Int("selftest", 0, "send `N` requests of each story to the service itself, then exit")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *n, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, or runs the selftest when selftest > 0,
// then shuts down. opts are added to the TracerProvider's (tests record
// spans with them).
func run(ctx context.Context, addr string, selftest int, out io.Writer, opts ...sdktrace.TracerProviderOption) error {
	tp, err := newTracerProvider(ctx, opts...)
	if err != nil {
		return err
	}
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	s := &server{tracker: tracker, db: &pool{tracker: tracker}}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.routes(tp), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())

	if selftest > 0 {
		err = runSelftest(ctx, "http://"+ln.Addr().String(), selftest, tracker, out)
	} else {
		select {
		case <-ctx.Done():
		case err = <-served:
		}
	}

	// Stop taking requests; end what is still open and wait for the
	// releases in flight; then flush the spans.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close() // a long poll outlived the deadline: cut it
	}
	err = errors.Join(err, tracker.Shutdown(sctx))

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if ferr := tp.Shutdown(fctx); ferr != nil {
		// The backend is unreachable: the spans not yet exported are lost,
		// but the service itself stopped cleanly.
		fmt.Fprintln(os.Stderr, "service: flushing spans:", ferr)
	}
	return err
}

// newTracerProvider batches spans to the exporter that the OTEL_*
// variables select.
func newTracerProvider(ctx context.Context, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, error) {
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("otelguard-service")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, err
	}
	opts = append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithBatcher(exp)}, opts...)
	return sdktrace.NewTracerProvider(opts...), nil
}
