package spanleak_test

import (
	"context"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// env is a program's TracerProvider with the processor under test, and
// the Tracker its findings go to, recorded in memory.
type env struct {
	proc     sdktrace.SpanProcessor
	app      *sdktrace.TracerProvider // the program's provider
	exported *tracetest.InMemoryExporter
	findings *memory.Exporter // the Tracker's spans: the findings
	tracker  *otelguard.Tracker
}

// newEnv makes an env whose provider has the spanleak processor and an
// exporting processor (simple or batch), spanleak first or second.
func newEnv(t testing.TB, exporting string, spanleakFirst bool, opts ...spanleak.Option) *env {
	t.Helper()
	e := &env{exported: tracetest.NewInMemoryExporter(), findings: memory.New()}
	ftp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(e.findings))
	e.tracker = otelguard.New(otelguard.WithTracerProvider(ftp), otelguard.WithLeakLogInterval(-1))
	// Every span watched unless the test says otherwise: a test wants
	// every leak (the default, 128, is for production).
	e.proc = spanleak.NewProcessor(append([]spanleak.Option{spanleak.WithTracker(e.tracker), spanleak.WithSampling(1)}, opts...)...)
	var other sdktrace.SpanProcessor
	switch exporting {
	case "simple":
		other = sdktrace.NewSimpleSpanProcessor(e.exported)
	case "batch":
		other = sdktrace.NewBatchSpanProcessor(e.exported)
	case "none":
	default:
		t.Fatalf("unknown processor %q", exporting)
	}
	var tpOpts []sdktrace.TracerProviderOption
	if other != nil && !spanleakFirst {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(other))
	}
	tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(e.proc))
	if other != nil && spanleakFirst {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(other))
	}
	e.app = sdktrace.NewTracerProvider(tpOpts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.app.Shutdown(ctx)
		_ = e.tracker.Shutdown(ctx)
		_ = ftp.Shutdown(ctx)
	})
	return e
}

func (e *env) tracer() trace.Tracer { return e.app.Tracer("example.com/app") }

// collect forces collections until at most open watched spans remain
// (bounded: it gives up after about two seconds), then waits for the
// reports of what was found.
func (e *env) collect(t testing.TB, open int) {
	t.Helper()
	for i := 0; ; i++ {
		runtime.GC()
		if bridge.OpenSpans(e.proc) <= open {
			break
		}
		if i == 200 {
			t.Fatalf("after 200 collections, %d spans still open, want %d", bridge.OpenSpans(e.proc), open)
		}
		time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.proc.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

// finding is a finding span, read back.
type finding struct {
	kind, name, stack, scope string
	link                     trace.SpanContext
	links                    int
	root                     bool
}

// found returns the finding spans of kind what (all kinds if empty).
func (e *env) found(what string) []finding {
	var out []finding
	for _, s := range e.findings.Spans() {
		if s.Name != "otelguard.finding" {
			continue
		}
		f := finding{links: len(s.Links), root: !s.Parent.IsValid()}
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "otelguard.finding":
				f.kind = kv.Value.AsString()
			case "otelguard.name":
				f.name = kv.Value.AsString()
			case "code.stacktrace":
				f.stack = kv.Value.AsString()
			case "otel.scope.name":
				f.scope = kv.Value.AsString()
			}
		}
		if len(s.Links) > 0 {
			f.link = s.Links[0].SpanContext
		}
		if what == "" || f.kind == what {
			out = append(out, f)
		}
	}
	return out
}

// firstFunction is the function of a rendered stack's first frame.
func firstFunction(stack string) string {
	line, _, _ := strings.Cut(stack, "\n")
	fn, _, _ := strings.Cut(line, "(...)")
	return fn
}

func attrOf(kvs []attribute.KeyValue, k string) string {
	for _, kv := range kvs {
		if string(kv.Key) == k {
			return kv.Value.String()
		}
	}
	return ""
}

// spanPointer is the span object s holds, as a *byte (the probe cannot
// name the SDK's unexported span type).
func spanPointer(s sdktrace.ReadOnlySpan) *byte {
	return (*byte)(reflect.ValueOf(s).UnsafePointer())
}
