package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestFlushGuardKeepsPartialWritesOnPanic(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	path := filepath.Join(t.TempDir(), "r.txt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "malformed record 2" {
				t.Errorf("recovered %v, want the writer's own panic", r)
			}
		}()
		writeReport(context.Background(), tracker, f, []string{"a", "b", "c"}, 2)
	}()
	f.Close()
	if got, _ := os.ReadFile(path); string(got) != "a\nb\n" {
		t.Fatalf("file = %q, want the two lines written before the panic", got)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	var outcome, trigger string
	for _, kv := range spans[0].Attributes() {
		switch kv.Key {
		case "otelguard.outcome":
			outcome = kv.Value.AsString()
		case "otelguard.trigger":
			trigger = kv.Value.AsString()
		}
	}
	if outcome != "cleaned" || trigger != "panic" {
		t.Fatalf("outcome %q trigger %q", outcome, trigger)
	}
}

func TestFlushGuardWithoutPanic(t *testing.T) {
	tracker := otelguard.New()
	path := filepath.Join(t.TempDir(), "r.txt")
	f, _ := os.Create(path)
	writeReport(context.Background(), tracker, f, []string{"a", "b"}, -1)
	f.Close()
	if got, _ := os.ReadFile(path); string(got) != "a\nb\n" {
		t.Fatalf("file = %q", got)
	}
}
