package spanleak_test

import (
	"github.com/otelguard/otelguard-go/otelguard/spanleak"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The set-ups the documentation shows (doc.go, NewProcessor's comment,
// docs/spanleak.md), compiled here line for line.

func docProvider(exporter sdktrace.SpanExporter) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(spanleak.NewProcessor()),
		sdktrace.WithBatcher(exporter),
	)
	return tp
}

func docProviderFirst(exporter sdktrace.SpanExporter) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(spanleak.NewProcessor()), // before the exporting processor
		sdktrace.WithBatcher(exporter),
	)
	return tp
}

var _, _ = docProvider, docProviderFirst
