package leaklog_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/otelguard/otelguard-go/exporters/leaklog"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// stable keeps an example's output the same on every machine and every
// edit: no time, and of a stack only its first frame, without its file's
// directory or line.
func stable(groups []string, a slog.Attr) slog.Attr {
	switch {
	case a.Key == slog.TimeKey && len(groups) == 0:
		return slog.Attr{}
	case len(groups) == 1 && groups[0] == "code.stacktrace":
		if a.Key != "0" {
			return slog.Attr{}
		}
		fn, file, _ := strings.Cut(a.Value.String(), " ")
		file = file[strings.LastIndex(file, "/")+1:]
		file = file[:strings.LastIndex(file, ":")]
		return slog.String(a.Key, fn+" "+file)
	}
	return a
}

func ExampleNew() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: stable}))
	// A batcher keeps logging off the code that ends the lifetimes.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(leaklog.New(logger)))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	ctx := context.Background()

	ok := otelguard.Acquire(ctx, "db.conn", 0, func(context.Context, int) error { return nil },
		otelguard.WithTracker(tracker))
	_ = ok.Close(ctx) // cleaned: not logged

	flush := otelguard.Acquire(ctx, "cache.flush", 0, func(context.Context, int) error {
		return errors.New("cache node unreachable")
	}, otelguard.WithTracker(tracker))
	_ = flush.Close(ctx) // failed

	lock := otelguard.NewGuard(ctx, "worker.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
	_ = tracker.Shutdown(ctx) // worker.lock is still held: open_at_shutdown
	_ = tp.Shutdown(ctx)      // exports the batch
	_ = lock.Run()

	// Output:
	// level=WARN msg="otelguard: lifetime failed" otelguard.name=cache.flush otelguard.kind=resource otelguard.outcome=failed otelguard.trigger=close error.type=*errors.errorString
	// level=WARN msg="otelguard: lifetime open_at_shutdown" otelguard.name=worker.lock otelguard.kind=guard otelguard.outcome=open_at_shutdown otelguard.trigger=shutdown code.stacktrace.0="github.com/otelguard/otelguard-go/exporters/leaklog_test.ExampleNew example_test.go"
}

// The acquire stack of a leak, under the JSON handler: one attribute per
// frame, as under the text handler.
func ExampleNew_json() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: stable}))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(leaklog.New(logger)))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	openReport(tracker) // drops the handle
	for i := 0; i < 100 && bridge.LeakCount(tracker) == 0; i++ {
		runtime.GC()
	}
	_ = tracker.Flush(context.Background())

	// Output:
	// {"level":"WARN","msg":"otelguard: lifetime leaked_without_close","otelguard.name":"report.file","otelguard.kind":"resource","otelguard.outcome":"leaked_without_close","otelguard.trigger":"gc","code.stacktrace":{"0":"github.com/otelguard/otelguard-go/exporters/leaklog_test.openReport example_test.go"}}
}

//go:noinline
func openReport(tracker *otelguard.Tracker) {
	//otelguard:handoff dropped on purpose: the leak the example logs
	otelguard.Acquire(context.Background(), "report.file", 0, func(context.Context, int) error { return nil },
		otelguard.WithTracker(tracker))
}
