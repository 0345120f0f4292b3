// Command quickstart shows every way an otelguard lifetime can end: it
// acquires a handful of resources and guards, ends each one differently,
// and prints what the spans recorded.
//
//	go run ./examples/quickstart
//
// With no tracing backend configured, spans are kept in memory (the
// exporters/memory exporter) and printed as a table. The standard OpenTelemetry variables send them to any OTLP
// backend as well, through go.opentelemetry.io/contrib/exporters/autoexport:
//
//	OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
//	OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	mem := memory.New() // typed reads of guard spans; keeps them past Shutdown
	tp, err := newTracerProvider(ctx, mem)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "code.stacktrace" {
				return slog.Attr{} // keep the demo's output short
			}
			return a
		},
	}))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithLogger(logger))

	ctx, root := tp.Tracer("quickstart").Start(ctx, "quickstart")
	exercise(ctx, tracker)
	root.End()

	// At exit: report what is still open, wait for releases running in the
	// background, then flush the provider so nothing is lost.
	if err := tracker.Shutdown(ctx); err != nil {
		return err
	}
	if err := tp.Shutdown(ctx); err != nil {
		return err
	}
	printTable(out, mem.Lifetimes())
	return nil
}

// newTracerProvider records into mem, and also exports through autoexport
// when OTEL_TRACES_EXPORTER is set.
func newTracerProvider(ctx context.Context, mem sdktrace.SpanExporter) (*sdktrace.TracerProvider, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("otelguard-quickstart")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSyncer(mem)}
	if os.Getenv("OTEL_TRACES_EXPORTER") != "" {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

type conn struct{ name string }

func (c *conn) Close() error { return nil }

// exercise ends one lifetime per outcome.
func exercise(ctx context.Context, tracker *otelguard.Tracker) {
	with := otelguard.WithTracker(tracker)

	// cleaned: acquired, used, closed.
	db := otelguard.Track(ctx, "db.conn", &conn{"primary"}, with)
	_ = db.Close(ctx)

	// disarmed: a rollback guard disarmed by a successful commit.
	func() {
		rollback := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
		defer rollback.Run()
		rollback.Disarm() // committed
	}()

	// failed: the release returns an error.
	cache := otelguard.Acquire(ctx, "cache.flush", "dirty-pages", func(context.Context, string) error {
		return errors.New("cache node unreachable")
	}, with)
	_ = cache.Close(ctx)

	// timed_out: a release that ignores its context outlives the deadline
	// of a bounded close (CloseAsync); the span ends at the deadline and
	// Shutdown waits for the straggler.
	sock := otelguard.Acquire(ctx, "socket.drain", 0, func(context.Context, int) error {
		time.Sleep(300 * time.Millisecond)
		return nil
	}, with)
	deadline, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	<-sock.CloseAsync(deadline)
	cancel()

	// cancel: a job's lease released for it when the job is cancelled.
	jobCtx, stopJob := context.WithCancel(ctx)
	lease := otelguard.Acquire(jobCtx, "job.lease", "lease-42", func(context.Context, string) error { return nil },
		with, otelguard.CloseOnCancel())
	stopJob()
	runtime.KeepAlive(lease) // the job held its lease until it was cancelled

	// scope: a request's cleanups, released newest first.
	scope := otelguard.NewScope(ctx, "request", otelguard.WithTracker(tracker))
	scope.Defer("request.tmpfile", func(context.Context) error { return nil })
	scope.Add(otelguard.Track(ctx, "request.conn", &conn{"replica"}, with))
	_ = scope.Close(ctx)

	// held too long: a query holding its connection past the threshold
	// logs a warning, then a note when it comes back.
	slow := otelguard.Track(ctx, "slow.query", &conn{"analytics"}, with, otelguard.WithHoldThreshold(20*time.Millisecond))
	time.Sleep(60 * time.Millisecond)
	_ = slow.Close(ctx)

	// leaked_without_close: a handle dropped without Close, found by the
	// garbage collector with the stack that acquired it.
	leakReportBuffer(ctx, tracker)
	for i := 0; i < 50 && stillOpen(tracker, "report.buffer"); i++ {
		runtime.GC()
		_ = tracker.Flush(ctx)
	}

	// open_at_shutdown: still held when the program shuts down.
	_ = otelguard.NewGuard(ctx, "worker.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker)) //otelguard:handoff left open on purpose: the example shows open_at_shutdown

	_ = tracker.Flush(ctx) // the cancel release and the leak report run in the background
}

// leakReportBuffer forgets to close what it acquires.
//
//go:noinline
func leakReportBuffer(ctx context.Context, tracker *otelguard.Tracker) {
	buf := otelguard.Acquire(ctx, "report.buffer", make([]byte, 4096), func(context.Context, []byte) error { return nil }, //otelguard:handoff leaked on purpose: the example shows leaked_without_close
		otelguard.WithTracker(tracker))
	_ = buf.Value()
}

func printTable(out io.Writer, lifetimes []memory.Lifetime) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nNAME\tKIND\tOUTCOME\tTRIGGER\tCLEANUP\tACQUIRED AT")
	for _, l := range lifetimes {
		cleanup := "-"
		if d := l.CleanupDuration; d >= time.Microsecond {
			cleanup = d.Round(time.Microsecond).String()
		} else if d > 0 {
			cleanup = d.String()
		}
		site := "-"
		if f, ok := l.AcquireSite(); ok && l.AcquireStack != "" {
			site = f.Function + " " + filepath.Base(f.File) + ":" + strconv.Itoa(f.Line)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Kind, l.Outcome, l.Trigger, cleanup, site)
	}
	w.Flush()
}

// stillOpen reports whether a lifetime named name is open: a leaked one
// leaves Live once the garbage collector found it and its span ended.
func stillOpen(tracker *otelguard.Tracker, name string) bool {
	for _, l := range tracker.Live() {
		if l.Name == name {
			return true
		}
	}
	return false
}
