// Command service is a small HTTP service with a real database and an
// upstream, watched by otelguard with no change to the code that uses
// them: its SQLite database (modernc.org/sqlite, pure Go, in a file) is
// opened through guardsql, so every rows and transaction is a lifetime;
// its client of the upstream goes through guardhttp.NewTransport, so every
// response body is one; and its mux is wrapped in guardhttp.NewHandler, so
// every request reports what it left open when its handler returns. One
// handler per story a tracing backend should be able to tell:
//
//	GET /query     a clean request: db.rows cleaned (closed_by=caller)
//	GET /leak      rows forgotten on an early return, their query detached
//	               from the request: db.rows leaked_without_close, found by
//	               the garbage collector, its stack naming handleLeak,
//	               and closed then (released=true)
//	GET /lookup    the same bug with the request's context: database/sql
//	               closes the rows when the request ends: db.rows cleaned,
//	               trigger cancel, otelguard.db.closed_by=context
//	GET /transfer  a transaction: db.tx cleaned, result commit; with ?fail=1
//	               it is forgotten on the error path, and database/sql rolls
//	               it back when the request ends: trigger cancel,
//	               closed_by=context, result rollback
//	GET /report    a slow release kept off the request path with
//	               CloseAsync: the report's upload to the upstream's
//	               archive, report.archive cleaned after ~150ms, ending
//	               after its request
//	GET /poll      a long poll its client cancels: poll.subscription
//	               released by CloseOnCancel, trigger cancel
//	GET /quote     a price from the upstream: http.response.body cleaned;
//	               when the upstream does not know the item (?item=unicorn)
//	               the body is forgotten on the error path:
//	               leaked_without_close, found by the garbage collector, its
//	               stack naming handleQuote, and closed then
//	GET /catalog   the first line of the upstream's catalog, a chunked
//	               response, and the body forgotten: leaked_without_close,
//	               found by the garbage collector, its stack naming
//	               handleCatalog (catalog.go)
//	GET /export    a DB.Conn handed to a goroutine that finishes the job
//	               after the response, acquired with the request's context:
//	               db.conn cleaned, with the span event
//	               otelguard.request.outlived from NewHandler
//
// Every lifetime still open when its handler returns gets that event —
// the forgotten rows, transaction and body above too — and a warning on
// standard error, with the request's method and route.
//
// Requests are server spans (otelhttp), and every lifetime is acquired with
// the request's context or one derived from it, so it is a child of its
// request's span. The upstream is a second HTTP server that the service
// starts on another port of 127.0.0.1 (upstream.go): a price list and a
// slow archive.
//
// -db names the SQLite file, created if missing; by default the service
// makes one in a temporary directory, removed when it exits.
//
// Spans are exported through go.opentelemetry.io/contrib/exporters/autoexport,
// as the standard OTEL_* variables say; the service name is
// otelguard-service unless OTEL_SERVICE_NAME says otherwise. They are
// sampled as OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG say (every
// trace by default), with otelguard's findings always kept
// (sampling.KeepFindings): at 1% head sampling,
//
//	OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01
//
// 1 request in 100 is traced, and every leak, every lifetime that outlived
// its request or was held too long, is in the backend as a finding span
// (otelguard.finding) with its acquire stack. With Jaeger
// running (make jaeger):
//
//	OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
//	go run ./examples/service -selftest 5
//
// sends 5 requests of each story to the service itself over loopback, has
// the garbage collector find the leaks, and exits, saying how many finding
// spans of each kind it sent (the end-to-end tests look for each in
// Jaeger). Without -selftest it
// serves on -addr until SIGINT or SIGTERM. Either way it shuts down in
// order: the server, the export jobs, then the Tracker (what is still open
// is reported, the releases in flight are waited for), the database and
// the upstream, then the TracerProvider (the spans are flushed), so
// nothing is lost. A backend that is down costs the requests nothing:
// spans are batched off the request path, and the final flush gives up
// after shutdownTimeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// shutdownTimeout bounds each step of the shutdown.
const shutdownTimeout = 5 * time.Second

// config is what the command line sets.
type config struct {
	addr     string    // where to listen
	selftest int       // > 0: run the selftest with this many requests of each story, then exit
	db       string    // the SQLite file; "": a new one in a temporary directory
	log      io.Writer // the Tracker's warnings
}

func main() {
	cfg := config{log: os.Stderr}
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "`address` to listen on")
	flag.IntVar(&cfg.selftest, "selftest", 0, "send `N` requests of each story to the service itself, then exit")
	flag.StringVar(&cfg.db, "db", "", "SQLite database `file` (default: a new one in a temporary directory, removed at exit)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, or runs the selftest when cfg.selftest > 0,
// then shuts down. opts are added to the TracerProvider's (tests record
// spans with them).
func run(ctx context.Context, cfg config, out io.Writer, opts ...sdktrace.TracerProviderOption) error {
	if cfg.db == "" {
		dir, err := os.MkdirTemp("", "otelguard-service-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.db = filepath.Join(dir, "service.db")
	}
	var sent *findingCount
	if cfg.selftest > 0 {
		sent = &findingCount{}
		opts = append(opts, sdktrace.WithSpanProcessor(sent))
	}
	tp, err := newTracerProvider(ctx, opts...)
	if err != nil {
		return err
	}
	// The Tracker's warnings — a lifetime that outlived its request, one
	// held too long, a leak — go to cfg.log, whatever the sampling.
	tracker := otelguard.New(otelguard.WithTracerProvider(tp),
		otelguard.WithLogger(slog.New(slog.NewTextHandler(cfg.log, &slog.HandlerOptions{Level: slog.LevelWarn}))))

	db, err := openDB(ctx, cfg.db, tracker)
	if err != nil {
		return errors.Join(err, tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	up, err := startUpstream()
	if err != nil {
		return errors.Join(err, db.Close(), tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	s := &server{
		tracker:  tracker,
		db:       db,
		upstream: up.url,
		// Every response body of this client is a lifetime of tracker's.
		client: &http.Client{Transport: guardhttp.NewTransport(nil, guardhttp.WithTracker(tracker))},
		news:   newHub(),
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return errors.Join(err, up.close(ctx), db.Close(), tracker.Shutdown(ctx), tp.Shutdown(ctx))
	}
	srv := &http.Server{Handler: s.routes(tp), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())

	if cfg.selftest > 0 {
		err = runSelftest(ctx, "http://"+ln.Addr().String(), cfg.selftest, s, out)
	} else {
		select {
		case <-ctx.Done():
		case err = <-served:
		}
	}

	// Stop taking requests; let the export jobs finish; end what is still
	// open and wait for the releases in flight; close the database and the
	// upstream; then flush the spans.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close() // a long poll outlived the deadline: cut it
	}
	err = errors.Join(err, s.waitExports(sctx), tracker.Shutdown(sctx), db.Close(), up.close(sctx))
	s.client.CloseIdleConnections()

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if ferr := tp.Shutdown(fctx); ferr != nil {
		// The backend is unreachable: the spans not yet exported are lost,
		// but the service itself stopped cleanly.
		fmt.Fprintln(os.Stderr, "service: flushing spans:", ferr)
	}
	if sent != nil {
		fmt.Fprintln(out, "findings sent:", sent)
	}
	return err
}

// newTracerProvider batches spans to the exporter that the OTEL_*
// variables select, sampled by the sampler they select wrapped in
// sampling.KeepFindings (newSampler).
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
	sampler, err := newSampler()
	if err != nil {
		return nil, err
	}
	opts = append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithBatcher(exp), sdktrace.WithSampler(sampler)}, opts...)
	return sdktrace.NewTracerProvider(opts...), nil
}
