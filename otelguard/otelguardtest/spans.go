package otelguardtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// CheckSpans returns a span processor that fails t for every span started
// under it that the test leaves un-ended: add it to the TracerProvider the
// code under test starts its spans with.
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(otelguardtest.CheckSpans(t)))
//	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
//	serve(tp.Tracer("app")) // the test fails, naming where, if serve forgets an End
//
// It is a spanleak processor (otelguard/spanleak) watching every span,
// whose findings go to a Tracker of its own. When the test and its
// subtests are done, a t.Cleanup collects garbage until no watched span is
// open (retrying as Find does, DefaultMaxRetries times unless MaxRetries
// says otherwise), shuts the processor down, and fails the test — at the
// line that called CheckSpans — listing each span that was dropped without
// End (span_not_ended) or was still open (open_at_shutdown, also when the
// provider was shut down first), with its name and the stack that started
// it:
//
//	otelguard: found 1 span never ended:
//
//	span "checkout": span_not_ended (dropped without End), started at:
//	example.com/app.charge(...)
//		/src/app/pay.go:42 +0x6d
//	...
//
// Spans that code under test ends on goroutines of its own must have
// ended by the time the test's cleanups run. CheckSpans does not shut the
// provider down. IgnoreName leaves out spans of that name; IgnoreCurrent
// has no effect here (every span is the test's).
//
// CheckSpans panics if t is nil. It may be called from any goroutine that
// may call t.Cleanup.
func CheckSpans(t TestingT, options ...Option) sdktrace.SpanProcessor {
	if t == nil {
		panic("otelguardtest: CheckSpans called with a nil TestingT")
	}
	if h, ok := t.(helper); ok {
		h.Helper()
	}
	o := buildOpts(options)
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := otelguard.New(otelguard.WithTracerProvider(tp),
		otelguard.WithLeakLogInterval(-1), // every finding a span: none folded
		otelguard.WithLogger(slog.New(slog.DiscardHandler)))
	proc := spanleak.NewProcessor(spanleak.WithTracker(tr), spanleak.WithSampling(1)) // every span watched: a test wants every leak
	t.Cleanup(func() {
		if h, ok := t.(helper); ok {
			h.Helper()
		}
		err := o.checkSpans(proc, exp)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = tr.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
		if err != nil {
			t.Error(err)
		}
	})
	return proc
}

// checkSpans collects until proc watches no open span, shuts it down, and
// reads the findings from exp.
func (o *opts) checkSpans(proc sdktrace.SpanProcessor, exp *memory.Exporter) error {
	for i := 0; ; i++ {
		runtime.GC()
		if bridge.OpenSpans(proc) == 0 || i >= o.maxRetries {
			break
		}
		time.Sleep(backoff(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	flushErr := proc.ForceFlush(ctx)
	if err := proc.Shutdown(ctx); flushErr == nil {
		flushErr = err
	}

	var b strings.Builder
	n := 0
	for _, s := range exp.Spans() {
		if s.Name != "otelguard.finding" {
			continue
		}
		var what, name, stack string
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "otelguard.finding":
				what = kv.Value.AsString()
			case "otelguard.name":
				name = kv.Value.AsString()
			case "code.stacktrace":
				stack = kv.Value.AsString()
			}
		}
		switch what {
		case "span_not_ended":
			what += " (dropped without End)"
		case "open_at_shutdown":
			what = "open (not ended when the test ended)"
		default:
			continue
		}
		if o.ignore[name] {
			continue
		}
		n++
		fmt.Fprintf(&b, "\nspan %q: %s, started at:\n%s", name, what, stack)
		if !strings.HasSuffix(stack, "\n") {
			b.WriteByte('\n')
		}
	}
	if n == 0 && flushErr == nil {
		return nil
	}
	var head string
	switch n {
	case 0:
	case 1:
		head = "otelguard: found 1 span never ended:\n"
	default:
		head = fmt.Sprintf("otelguard: found %d spans never ended:\n", n)
	}
	msg := head + b.String()
	if flushErr != nil {
		msg += fmt.Sprintf("\notelguard: the span check did not finish: %v\n", flushErr)
	}
	return errors.New(strings.TrimSuffix(msg, "\n"))
}
