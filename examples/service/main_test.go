package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestSelftestTellsEveryStory runs the selftest with the spans recorded in
// memory (the end-to-end tests in e2e/ check the same against Jaeger).
func TestSelftestTellsEveryStory(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const n = 2
	rec := tracetest.NewSpanRecorder()
	if err := run(context.Background(), "127.0.0.1:0", n, io.Discard, sdktrace.WithSpanProcessor(rec)); err != nil {
		t.Fatal(err)
	}

	requests := map[trace.SpanID]string{} // server span → its route
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			requests[s.SpanContext().SpanID()] = s.Name()
		}
	}
	type story struct{ route, name, outcome, trigger string }
	count := map[story]int{}
	for _, s := range rec.Ended() {
		a := attrs(s.Attributes())
		if a[otelguard.KindKey] == "" {
			continue // not a lifetime
		}
		route, ok := requests[s.Parent().SpanID()]
		if !ok {
			t.Errorf("%s %s: parent %s is not a request span", s.Name(), a[otelguard.OutcomeKey], s.Parent().SpanID())
		}
		count[story{route, s.Name(), a[otelguard.OutcomeKey], a[otelguard.TriggerKey]}]++

		switch route {
		case "GET /leak":
			if st := a[otelguard.StacktraceKey]; !strings.Contains(st, ".(*server).handleLeak(") {
				t.Errorf("leaked db.conn: code.stacktrace does not name handleLeak:\n%s", st)
			}
		case "GET /report":
			for _, kv := range s.Attributes() {
				if kv.Key == otelguard.CleanupDurationKey && kv.Value.AsFloat64() < float64(resetTime.Milliseconds()) {
					t.Errorf("report's db.conn: cleanup took %vms, want at least %v", kv.Value.AsFloat64(), resetTime)
				}
			}
		}
	}
	for want, wantN := range map[story]int{
		{"GET /query", "db.conn", "cleaned", "close"}:          n,
		{"GET /leak", "db.conn", "leaked_without_close", "gc"}: n,
		{"GET /report", "db.conn", "cleaned", "close"}:         n,
		{"GET /poll", "db.conn", "cleaned", "cancel"}:          n,
		{"GET /transfer", "db.conn", "cleaned", "close"}:       2 * n, // committed and rolled back
		{"GET /transfer", "tx.rollback", "disarmed", "disarm"}: n,
		{"GET /transfer", "tx.rollback", "cleaned", "defer"}:   n,
	} {
		if got := count[want]; got != wantN {
			t.Errorf("%+v: %d lifetimes, want %d", want, got, wantN)
		}
	}
	if t.Failed() {
		t.Logf("lifetimes seen: %v", count)
	}
}

func attrs(kvs []attribute.KeyValue) map[attribute.Key]string {
	m := make(map[attribute.Key]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}
