package main

import (
	"context"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/sampling"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// shutdownTimeout bounds each step of the shutdown.
const shutdownTimeout = 10 * time.Second

// telemetry is a TracerProvider exporting over OTLP/HTTP, a Tracker on it,
// and a watch on the findings they send.
type telemetry struct {
	tp       *sdktrace.TracerProvider
	tracker  *otelguard.Tracker
	findings *findingWatch
}

func newTelemetry(ctx context.Context) (*telemetry, error) {
	exp, err := otlptracehttp.New(ctx) // OTEL_EXPORTER_OTLP_ENDPOINT and the rest
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("findingsvc")),
		resource.WithFromEnv())
	if err != nil {
		return nil, err
	}
	w := &findingWatch{seen: map[string]string{}, changed: make(chan struct{})}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp), // OTEL_BSP_SCHEDULE_DELAY and the rest
		sdktrace.WithSampler(sampling.KeepFindings(nil)),
		sdktrace.WithSpanProcessor(w))
	return &telemetry{tp: tp, tracker: otelguard.New(otelguard.WithTracerProvider(tp)), findings: w}, nil
}

// shutdown ends what is open and flushes the spans.
func (t *telemetry) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := t.tracker.Shutdown(ctx)
	if ferr := t.tp.Shutdown(ctx); err == nil {
		err = ferr
	}
	return err
}

// findingWatch is a span processor that remembers the finding spans that
// ended, by kind and name, with the span ID of the lifetime each links to.
type findingWatch struct {
	mu      sync.Mutex
	seen    map[string]string // kind + "/" + name → linked span ID
	changed chan struct{}     // closed and replaced on each finding
}

func (*findingWatch) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (*findingWatch) Shutdown(context.Context) error                  { return nil }
func (*findingWatch) ForceFlush(context.Context) error                { return nil }

func (w *findingWatch) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() != "otelguard.finding" {
		return
	}
	var kind, name string
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case "otelguard.finding":
			kind = kv.Value.AsString()
		case "otelguard.name":
			name = kv.Value.AsString()
		}
	}
	link := ""
	if ls := s.Links(); len(ls) > 0 {
		link = ls[0].SpanContext.SpanID().String()
	}
	w.mu.Lock()
	w.seen[kind+"/"+name] = link
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// wait returns the linked span ID of the finding kind about name once one
// has ended, or false when ctx is done first. poll, if not nil, runs
// before each look (a collection, for a leak).
func (w *findingWatch) wait(ctx context.Context, kind, name string, poll func()) (string, bool) {
	for {
		if poll != nil {
			poll()
		}
		w.mu.Lock()
		link, ok := w.seen[kind+"/"+name]
		changed := w.changed
		w.mu.Unlock()
		if ok {
			return link, true
		}
		tick := time.NewTimer(100 * time.Millisecond) // the next collection, when polling
		select {
		case <-ctx.Done():
			tick.Stop()
			return "", false
		case <-changed:
		case <-tick.C:
		}
		tick.Stop()
	}
}
