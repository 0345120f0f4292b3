// Package sampling keeps otelguard's findings whatever the head sampling.
//
// A finding (DESIGN v2: held_too_long, leaked_without_close,
// open_at_shutdown, outlived_request, closed_by_context, pool_exhausted,
// span_not_ended) is a root span of its own trace, started with its
// otelguard.finding attribute, so a sampler sees it at start. KeepFindings
// wraps the sampler a service already runs:
//
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSampler(sampling.KeepFindings(
//			sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))),
//	)
//
// delivers every finding at 1% head sampling, and every other decision is
// the base sampler's. The core package otelguard stays free of the SDK, as
// instrumentation libraries should; this package is the SDK-facing part.
package sampling

import (
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// findingKey is the attribute every finding span starts with.
const findingKey = "otelguard.finding"

// KeepFindings returns a Sampler that samples every span started with an
// otelguard.finding attribute (RecordAndSample) and leaves every other
// decision to base. A nil base is sdktrace.ParentBased(sdktrace.AlwaysSample()),
// the SDK's default. It is safe for concurrent use, allocates nothing of
// its own, and looks at a span's start attributes only.
func KeepFindings(base sdktrace.Sampler) sdktrace.Sampler {
	if base == nil {
		base = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return keepFindings{base: base}
}

type keepFindings struct{ base sdktrace.Sampler }

func (k keepFindings) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	for _, kv := range p.Attributes {
		if kv.Key == findingKey {
			return sdktrace.SamplingResult{
				Decision:   sdktrace.RecordAndSample,
				Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState(),
			}
		}
	}
	return k.base.ShouldSample(p)
}

func (k keepFindings) Description() string {
	return "KeepFindings{" + k.base.Description() + "}"
}
