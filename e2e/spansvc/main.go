// Command spansvc is the service of e2e's span test (TestSpanNotEnded): a
// small HTTP service with a bug OpenTelemetry users know well — a handler
// that starts a span and returns on an error path without span.End() —
// whose TracerProvider runs otelguard/spanleak, registered before the
// exporting processor, watching every span (WithSampling(1)).
//
//	GET  /orders/{id}?qty=N  starts the span order.lookup and answers 200
//	                         when N is a positive number; otherwise answers
//	                         400 and returns WITHOUT ending the span (the
//	                         bug): the garbage collector finds it dropped,
//	                         and spanleak reports a finding span_not_ended
//	POST /subscriptions      starts the span subscription, which the
//	                         service keeps, open, until it exits: reachable,
//	                         it is never reported dropped; spanleak reports
//	                         it open_at_shutdown when the service shuts down
//	POST /debug/collect?want=N
//	                         runs the garbage collector and waits for
//	                         spanleak's reports, until the Tracker has
//	                         counted N span_not_ended findings, or for at
//	                         most 30 seconds; answers the count
//
// Findings go through an otelguard Tracker on the same TracerProvider
// (their spans are exported with the service's), with
// WithLeakLogInterval(-1), so that every finding is a span and a Warn
// record, none folded into a later one's otelguard.repeats. The server
// honours a W3C traceparent header, so that a client can tell which trace
// each of its requests, and each finding's link, belongs to.
//
// It is a module of its own, as pgxservice is: otelguard's dependencies
// (OpenTelemetry v1.47.0) would move the versions Jaeger pins in the e2e
// module. It prints "listening on http://ADDR", then the Tracker's Warn
// records, one JSON object a line (log/slog). Spans go over OTLP/HTTP as
// the OTEL_* variables say. SIGTERM or SIGINT (or, with -watch-stdin, the
// end of its standard input) shut it down: the server, then the
// TracerProvider — spanleak first, which reports the spans still open,
// then the exporting processor, which sends them — then the Tracker.
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
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// scopeName is the instrumentation scope of the service's own spans.
const scopeName = "github.com/otelguard/otelguard-go/e2e/spansvc"

// shutdownTimeout bounds each step of the shutdown.
const shutdownTimeout = 10 * time.Second

// collectTimeout bounds how long POST /debug/collect collects.
const collectTimeout = 30 * time.Second

func main() {
	watch := flag.Bool("watch-stdin", false, "shut down when standard input closes, as on SIGTERM")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watch {
		// e2e holds the pipe open: should the test binary die, it
		// closes, and the service exits all the same.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "spansvc:", err)
		os.Exit(1)
	}
}

type server struct {
	tracer  trace.Tracer
	leaks   sdktrace.SpanProcessor // spanleak's
	tracker *otelguard.Tracker
	reader  *sdkmetric.ManualReader // the Tracker's metrics

	mu   sync.Mutex
	subs []trace.Span // open subscriptions, ended never (the service has no unsubscribe)
}

func run(ctx context.Context, out io.Writer) error {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("otelguard-spansvc")),
		resource.WithFromEnv())
	if err != nil {
		return err
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res))
	logger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tracker := otelguard.New(
		otelguard.WithTracerProvider(tp),
		otelguard.WithMeterProvider(mp),
		otelguard.WithLogger(logger),
		otelguard.WithLeakLogInterval(-1), // every finding a span and a record
	)
	// The Tracker needs the provider and spanleak the Tracker: the
	// processors are registered once both exist, spanleak first, so that
	// its open_at_shutdown findings are made before the exporting
	// processor shuts down, and exported.
	leaks := spanleak.NewProcessor(spanleak.WithTracker(tracker), spanleak.WithSampling(1))
	tp.RegisterSpanProcessor(leaks)
	tp.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(exp))

	s := &server{tracer: tp.Tracer(scopeName), leaks: leaks, tracker: tracker, reader: reader}
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern,
			otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{})))
	}
	handle("GET /orders/{id}", s.handleOrder)
	handle("POST /subscriptions", s.handleSubscribe)
	mux.HandleFunc("POST /debug/collect", s.handleCollect)

	shutdown := func(err error) error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		// The provider first: spanleak reports through the Tracker.
		return errors.Join(err, tp.Shutdown(sctx), tracker.Shutdown(sctx), mp.Shutdown(sctx))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return shutdown(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	return shutdown(err)
}

// handleOrder looks an order up for a quantity. Its bug: on a bad
// quantity it answers 400 and returns, and its span is never ended —
// never exported, a hole in the request's trace. spanleak finds it, with
// the stack that started it: this handler, at the line of Start.
func (s *server) handleOrder(w http.ResponseWriter, r *http.Request) {
	ctx, span := s.tracer.Start(r.Context(), "order.lookup")
	qty, err := strconv.Atoi(r.URL.Query().Get("qty"))
	if err != nil || qty < 1 {
		http.Error(w, "qty: want a positive number", http.StatusBadRequest)
		return // BUG: span.End() forgotten
	}
	span.SetAttributes(attribute.String("order.id", r.PathValue("id")), attribute.Int("order.qty", qty))
	price := lookup(ctx, r.PathValue("id"))
	span.End()
	fmt.Fprintf(w, "order %s: %d at %d\n", r.PathValue("id"), qty, price)
}

// lookup stands for the work a handler does under its span.
func lookup(ctx context.Context, id string) int {
	trace.SpanFromContext(ctx).AddEvent("price.lookup")
	return 100 + len(id)
}

// handleSubscribe starts a subscription, whose span lasts as long as the
// subscription: until the service exits, which reports it open_at_shutdown.
// The service keeps it, so it is never found dropped.
func (s *server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	_, span := s.tracer.Start(context.WithoutCancel(r.Context()), "subscription")
	s.mu.Lock()
	s.subs = append(s.subs, span)
	n := len(s.subs)
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "subscription %d\n", n)
}

// handleCollect runs the garbage collector and waits for spanleak's
// reports (ForceFlush: each waits a second for an End in progress) until
// the Tracker has counted want span_not_ended findings, for at most
// collectTimeout. A collection queues the dropped spans' runtime
// cleanups, which the runtime runs on a goroutine of its own: a round may
// end before they have run, and the next one finds their reports queued.
// It answers the count, which may be short of want when time is up (or
// past it).
func (s *server) handleCollect(w http.ResponseWriter, r *http.Request) {
	want, err := strconv.Atoi(r.URL.Query().Get("want"))
	if err != nil {
		http.Error(w, "want: "+err.Error(), http.StatusBadRequest)
		return
	}
	deadline := time.Now().Add(collectTimeout)
	var n int64
	for i := 1; ; i++ {
		runtime.GC()
		if err := s.leaks.ForceFlush(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if n, err = s.findings(r.Context(), "span_not_ended"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if n >= int64(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(min(time.Duration(i)*time.Millisecond, 100*time.Millisecond))
	}
	fmt.Fprintln(w, n)
}

// findings returns how many findings of kind the Tracker has counted in
// its metric otelguard.findings.
func (s *server) findings(ctx context.Context, kind string) (int64, error) {
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(ctx, &rm); err != nil {
		return 0, err
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != "otelguard.findings" || !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				if v, _ := dp.Attributes.Value("otelguard.finding"); v.AsString() == kind {
					n += dp.Value
				}
			}
		}
	}
	return n, nil
}
