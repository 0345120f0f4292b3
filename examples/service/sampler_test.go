package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// At a head sampling that keeps no request, the selftest's findings are
// all recorded, with the stack of the handler that dropped each leak, and
// nothing else is; the count it prints is what was recorded.
func TestSelftestAtZeroHeadSamplingKeepsEveryFinding(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0")
	rec := tracetest.NewSpanRecorder()
	var out bytes.Buffer
	cfg := config{addr: "127.0.0.1:0", selftest: 2, db: t.TempDir() + "/service.db", log: io.Discard}
	if err := run(context.Background(), cfg, &out, sdktrace.WithSpanProcessor(rec)); err != nil {
		t.Fatal(err)
	}
	byKind := map[string]int{}     // findings emitted when found
	sentByKind := map[string]int{} // and Shutdown's summaries of the folded ones
	leaks := map[string]int{}      // leaking handler → findings
	for _, s := range rec.Ended() {
		a := attrs(s.Attributes())
		kind, ok := a["otelguard.finding"]
		if !ok || s.Name() != "otelguard.finding" {
			t.Errorf("span %s (%v) recorded at ratio 0: not a finding", s.Name(), a)
			continue
		}
		if !s.SpanContext().IsSampled() || s.Parent().IsValid() {
			t.Errorf("finding %s: sampled %v, parent %v; want a sampled root", kind, s.SpanContext().IsSampled(), s.Parent())
		}
		sentByKind[kind]++
		if _, summary := a["otelguard.repeats"]; summary {
			continue // Shutdown's summary of the findings the rate limit folded
		}
		byKind[kind]++
		if kind == "leaked_without_close" {
			named := ""
			for _, h := range stacks {
				if strings.Contains(a["code.stacktrace"], h) {
					named = h
				}
			}
			if named == "" {
				t.Errorf("leak finding of %s: code.stacktrace names none of %v:\n%s", a["otelguard.name"], stacks, a["code.stacktrace"])
			}
			leaks[named]++
		}
	}
	// Two rounds in well under the rate limit's minute: one finding per
	// call site and kind, so one per leaking handler.
	for _, h := range stacks {
		if leaks[h] != 1 {
			t.Errorf("leak findings by handler %v, want one of each of %v", leaks, stacks)
			break
		}
	}
	if byKind["outlived_request"] != len(wantOutlived(1)) {
		t.Errorf("%d outlived_request findings, want %d (one per site)", byKind["outlived_request"], len(wantOutlived(1)))
	}
	printed := (&findingCount{byKind: sentByKind}).String()
	if !strings.Contains(out.String(), "\nfindings sent: "+printed+"\n") {
		t.Errorf("the selftest printed %q; recorded %s", out.String(), printed)
	}
}

// The sampler follows OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG as
// the SDK does, always keeps findings, and refuses what the SDK would.
func TestSamplerFromEnvironment(t *testing.T) {
	finding := []attribute.KeyValue{attribute.String("otelguard.finding", "leaked_without_close")}
	for _, c := range []struct {
		sampler, arg string
		sampled      bool // a root span without the attribute
	}{
		{"", "", true},
		{"parentbased_always_on", "", true},
		{"always_on", "", true},
		{"always_off", "", false},
		{"parentbased_always_off", "", false},
		{"traceidratio", "0", false},
		{"parentbased_traceidratio", "0", false},
		{"parentbased_traceidratio", "1", true},
		{"PARENTBASED_TRACEIDRATIO", " 1 ", true},
		{"traceidratio", "", true},
	} {
		t.Setenv("OTEL_TRACES_SAMPLER", c.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", c.arg)
		s, err := newSampler()
		if err != nil {
			t.Errorf("%s %q: %v", c.sampler, c.arg, err)
			continue
		}
		p := sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: trace.TraceID{1}, Name: "GET /query"}
		if got := s.ShouldSample(p).Decision == sdktrace.RecordAndSample; got != c.sampled {
			t.Errorf("%s %q: sampled %v, want %v", c.sampler, c.arg, got, c.sampled)
		}
		p.Attributes = finding
		if s.ShouldSample(p).Decision != sdktrace.RecordAndSample {
			t.Errorf("%s %q: a finding is not sampled", c.sampler, c.arg)
		}
	}
	for _, c := range [][2]string{{"jaeger_remote", ""}, {"traceidratio", "1.5"}, {"traceidratio", "-1"}, {"parentbased_traceidratio", "one"}} {
		t.Setenv("OTEL_TRACES_SAMPLER", c[0])
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", c[1])
		if _, err := newSampler(); err == nil {
			t.Errorf("%s %q: no error", c[0], c[1])
		}
	}
}
