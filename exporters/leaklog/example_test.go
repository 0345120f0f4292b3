package leaklog_test

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/otelguard/otelguard-go/exporters/leaklog"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func ExampleNew() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "code.stacktrace" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
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

	lock := tracker.NewGuard(ctx, "worker.lock", func(context.Context) error { return nil })
	_ = tracker.Shutdown(ctx) // worker.lock is still held: open_at_shutdown
	_ = tp.Shutdown(ctx)      // exports the batch
	_ = lock.Run()

	// Output:
	// level=WARN msg="otelguard: lifetime failed" otelguard.name=cache.flush otelguard.kind=resource otelguard.outcome=failed otelguard.trigger=close error.type=*errors.errorString
	// level=WARN msg="otelguard: lifetime open_at_shutdown" otelguard.name=worker.lock otelguard.kind=guard otelguard.outcome=open_at_shutdown otelguard.trigger=shutdown
}
