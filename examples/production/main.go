// Command production shows otelguard set up as a service runs it: traces
// sampled at the head (here: none at all), leak detection sampled per call
// site, and the Tracker's logger sent through OpenTelemetry logs with the
// otelslog bridge, so that every leak reaches a person, beside the traces,
// whatever the sampling.
//
//	go run ./examples/production
//
// It serves one request that leaks a database cursor, finds the leak,
// and prints the OpenTelemetry log record the leak became: severity, body,
// the trace it belongs to (the request's, although no span of it was
// sampled), and the acquire stack naming the handler.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "production:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx := context.Background()

	// Traces: sampled at the head. A real service would sample a few per
	// cent (sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))) and
	// export with autoexport; this one samples none, the worst case.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer tp.Shutdown(ctx)

	// Logs: the Tracker's logger goes through OpenTelemetry logs. A real
	// service would export them with autoexport's log exporter; this one
	// keeps them to print.
	logs := &memoryLogs{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(logs)))
	defer lp.Shutdown(ctx)
	logger := otelslog.NewLogger("otelguard", otelslog.WithLoggerProvider(lp))

	tracker := otelguard.New(
		otelguard.WithTracerProvider(tp),
		otelguard.WithLogger(logger),       // every leak, sampled or not
		otelguard.WithLeakSampling(128),    // stacks and cleanups for 1 in 128 per site, after the first 16
		otelguard.WithLeakCheckInterval(0), // the default: a leak is found within about two minutes, idle or not
	)
	defer tracker.Shutdown(ctx)

	// One request, its span not sampled, whose handler leaks a cursor.
	rctx, span := tp.Tracer("service").Start(otelguard.ContextWithTracker(ctx, tracker), "GET /report")
	handleReport(rctx)
	span.End()

	for i := 0; i < 100 && len(tracker.Live()) > 0; i++ {
		runtime.GC() // a service collects on its own; the example cannot wait
		_ = tracker.Flush(ctx)
	}
	if err := tracker.Flush(ctx); err != nil {
		return err
	}
	for _, r := range logs.all() {
		fmt.Fprintf(w, "%s %s\n", r.Severity(), r.Body().AsString())
		fmt.Fprintf(w, "  trace %v (the request's: %v), sampled %v\n",
			r.TraceID(), r.TraceID() == span.SpanContext().TraceID(), r.TraceFlags().IsSampled())
		var lines []string
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			switch {
			case kv.Value.Type() == attribute.MAP: // the stack: a frame per entry
				for _, f := range kv.Value.AsMap() {
					if f.Key == "0" {
						lines = append(lines, string(kv.Key)+" 0: "+trimFile(f.Value.AsString()))
					}
				}
			case kv.Key != "otelguard.age": // varies from run to run
				lines = append(lines, string(kv.Key)+": "+kv.Value.String())
			}
			return true
		})
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintln(w, "  "+l)
		}
	}
	return nil
}

// handleReport forgets to close its cursor on the way out.
//
//go:noinline
func handleReport(ctx context.Context) {
	//otelguard:handoff dropped on purpose: the leak the example reports
	otelguard.Acquire(ctx, "db.rows", "SELECT …", func(context.Context, string) error { return nil })
}

// trimFile keeps a frame's function and file name, without the directory
// or the line, so the output is the same everywhere.
func trimFile(frame string) string {
	fn, file, _ := strings.Cut(frame, " ")
	file = file[strings.LastIndex(file, "/")+1:]
	if i := strings.LastIndex(file, ":"); i >= 0 {
		file = file[:i]
	}
	return fn + " " + file
}

// memoryLogs is a log exporter that keeps the records.
type memoryLogs struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

func (m *memoryLogs) Export(_ context.Context, recs []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.recs = append(m.recs, r.Clone())
	}
	return nil
}

func (m *memoryLogs) Shutdown(context.Context) error   { return nil }
func (m *memoryLogs) ForceFlush(context.Context) error { return nil }

func (m *memoryLogs) all() []sdklog.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdklog.Record(nil), m.recs...)
}
