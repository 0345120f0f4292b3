package spanleak_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/otelguard/otelguard-go/internal/bridge"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// collectingInEnd is a processor registered before spanleak whose OnEnd,
// for a span named "racy", collects until the span object itself is gone
// and spanleak's runtime cleanup has run: the SDK's End no longer
// references the span once it has taken the snapshot it gives OnEnd, so a
// span ended as the program's last use of it can be collected while the
// processors handle its End.
type collectingInEnd struct {
	proc      sdktrace.SpanProcessor
	mu        sync.Mutex
	span      weak.Pointer[byte]
	collected bool
}

func (c *collectingInEnd) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if s.Name() == "racy" {
		c.mu.Lock()
		c.span = weak.Make(spanPointer(s))
		c.mu.Unlock()
	}
}

func (c *collectingInEnd) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() != "racy" {
		return
	}
	c.mu.Lock()
	w := c.span
	c.mu.Unlock()
	for i := 0; i < 1000; i++ {
		runtime.GC()
		if w.Value() == nil && bridge.OpenSpans(c.proc) == 0 {
			c.mu.Lock()
			c.collected = true
			c.mu.Unlock()
			return
		}
		time.Sleep(time.Millisecond)
	}
}
func (*collectingInEnd) Shutdown(context.Context) error   { return nil }
func (*collectingInEnd) ForceFlush(context.Context) error { return nil }

// endRacy starts a span and ends it as its last use.
//
//go:noinline
func endRacy(tr trace.Tracer) {
	_, s := tr.Start(context.Background(), "racy")
	s.End()
}

// A span collected while its End is still in the processors registered
// before spanleak is not reported: its OnEnd cancels the report.
func TestASpanCollectedDuringItsEndIsNotReported(t *testing.T) {
	e := newEnv(t, "none", true)
	c := &collectingInEnd{proc: e.proc}
	// Rebuild the provider with the collecting processor first.
	e.app = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c), sdktrace.WithSpanProcessor(e.proc))
	defer func() { _ = e.app.Shutdown(context.Background()) }()
	endRacy(e.tracer())
	c.mu.Lock()
	collected := c.collected
	c.mu.Unlock()
	if !collected {
		t.Fatal("the span was not collected during its End: the SDK now keeps it reachable there (update endGrace's comment)")
	}
	e.collect(t, 0)
	if fs := e.found(""); len(fs) != 0 {
		t.Fatalf("a span that ended was reported: %+v", fs)
	}
}
