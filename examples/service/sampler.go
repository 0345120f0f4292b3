package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/otelguard/otelguard-go/otelguard/sampling"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newSampler is the sampler a service chooses as OpenTelemetry's
// environment variables say (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG:
// always_on, always_off, traceidratio, parentbased_always_on — the default
// —, parentbased_always_off, parentbased_traceidratio), wrapped in
// sampling.KeepFindings: at 1% head sampling (parentbased_traceidratio,
// 0.01) 1 request in 100 is traced and every finding — a leak found by the
// garbage collector, a lifetime that outlived its request or was held too
// long — is kept, whatever became of its request's trace.
//
// The SDK reads the same variables, but only for the sampler it makes
// when it is given none, and it does not export that sampler: so they are
// read here as the SDK reads them (go.opentelemetry.io/otel/sdk/trace's
// sampler_env.go). A value it would refuse is an error here, not a
// warning, so that a typo does not silently trace everything.
func newSampler() (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", arg)
		}
		return sdktrace.TraceIDRatioBased(r), nil
	}
	var base sdktrace.Sampler
	switch name {
	case "", "parentbased_always_on":
		base = sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "always_on":
		base = sdktrace.AlwaysSample()
	case "always_off":
		base = sdktrace.NeverSample()
	case "parentbased_always_off":
		base = sdktrace.ParentBased(sdktrace.NeverSample())
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		base = r
		if name == "parentbased_traceidratio" {
			base = sdktrace.ParentBased(r)
		}
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: not a sampler this service knows", name)
	}
	return sampling.KeepFindings(base), nil
}
