package spanleak_test

// Until the core's findings land (a commit "core: findings" on main),
// bridge.EmitFinding is nil: this stand-in emits the span DESIGN v2
// describes (no rate limit, no metric, no log) through the provider the
// test gave its Tracker. Once the core fills EmitFinding, it is unused.

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

var (
	fakeMu        sync.Mutex
	fakeProviders = map[any]trace.Tracer{}
)

// registerProvider tells the stand-in which provider a Tracker's findings go to.
func registerProvider(tr *otelguard.Tracker, tp trace.TracerProvider) {
	fakeMu.Lock()
	defer fakeMu.Unlock()
	fakeProviders[tr] = tp.Tracer(otelguard.ScopeName) // as the core: its tracer, made once
}

func init() {
	if bridge.EmitFinding != nil {
		return
	}
	bridge.EmitFinding = func(tracker any, f bridge.Finding) {
		fakeMu.Lock()
		tracer := fakeProviders[tracker]
		fakeMu.Unlock()
		if tracer == nil {
			return
		}
		attrs := []attribute.KeyValue{
			attribute.String("otelguard.finding", f.Kind),
			attribute.String("otelguard.name", f.Name),
			attribute.String("otelguard.kind", f.LifetimeKind),
			attribute.Float64("otelguard.age_ms", float64(f.Age.Microseconds())/1000),
		}
		if len(f.PCs) > 0 {
			attrs = append(attrs, attribute.String("code.stacktrace", renderPCs(f.PCs)))
		}
		attrs = append(attrs, f.Attrs...)
		_, s := tracer.Start(context.Background(), "otelguard.finding",
			trace.WithNewRoot(), trace.WithAttributes(attrs...), trace.WithLinks(trace.Link{SpanContext: f.Link}))
		s.End()
	}
}

func renderPCs(pcs []uintptr) string {
	var b strings.Builder
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function != "runtime.goexit" && f.Function != "" {
			b.WriteString(f.Function + "(...)\n\t" + f.File + ":" + strconv.Itoa(f.Line) + "\n")
		}
		if !more {
			return b.String()
		}
	}
}
