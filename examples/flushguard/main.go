// Command flushguard is the seed tutorial's FlushGuard exercise in Go: a
// bufio.Writer flushed by a guard, shown to keep partial writes even when
// the function writing panics midway.
//
// In Rust, a FlushGuard wrapping a BufWriter flushes in Drop, which runs
// while a panic unwinds. In Go the same job is `defer g.Run()` on an
// otelguard Guard: the deferred Run sees the panic (trigger panic), flushes,
// and lets the panic go on unchanged. The span records that it happened.
//
//	go run ./examples/flushguard
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// writeReport writes lines to w through a buffer. A FlushGuard makes sure
// whatever was written reaches w, however the function ends.
func writeReport(ctx context.Context, tracker *otelguard.Tracker, f *os.File, lines []string, panicAt int) {
	w := bufio.NewWriter(f)
	flush := otelguard.NewGuard(ctx, "report.flush", func(context.Context) error { return w.Flush() }, otelguard.WithTracker(tracker))
	defer flush.Run()
	for i, line := range lines {
		if i == panicAt {
			panic(fmt.Sprintf("malformed record %d", i))
		}
		fmt.Fprintln(w, line)
	}
}

func main() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	ctx := context.Background()

	dir, err := os.MkdirTemp("", "flushguard")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "report.txt")
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	lines := []string{"alpha", "beta", "gamma", "delta"}
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		writeReport(ctx, tracker, f, lines, 2) // panics before "gamma"
	}()
	_ = f.Close()

	data, _ := os.ReadFile(path)
	fmt.Printf("file holds the partial writes:\n%s", data)
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "otelguard.outcome" || kv.Key == "otelguard.trigger" {
				fmt.Printf("%s %s=%s\n", s.Name(), kv.Key, kv.Value.AsString())
			}
		}
	}
	_ = tp.Shutdown(ctx)
}
