package main

import (
	"bytes"
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

// story is a lifetime as the stories tell it: the route of the request it
// belongs to, its span's name, outcome and trigger, and the attribute that
// tells it from its neighbours ("" for none).
type story struct{ route, name, outcome, trigger, detail string }

// wantStories is what n rounds of the selftest leave, story by story.
func wantStories(n int) map[story]int {
	return map[story]int{
		{"/query", "db.rows", "cleaned", "close", "closed_by=caller"}:                     n,
		{"/leak", "db.rows", "leaked_without_close", "gc", "released=true"}:               n, // guardsql closes the rows it finds dropped
		{"/lookup", "db.rows", "cleaned", "cancel", "closed_by=context"}:                  n,
		{"/transfer", "db.tx", "cleaned", "close", "result=commit"}:                       n,
		{"/transfer", "db.tx", "cleaned", "cancel", "result=rollback"}:                    n,
		{"/report", "db.rows", "cleaned", "close", "closed_by=iteration"}:                 n,
		{"/report", "report.archive", "cleaned", "close", ""}:                             n,
		{"/report", "http.response.body", "cleaned", "close", "drained=true"}:             n,
		{"/poll", "poll.subscription", "cleaned", "cancel", ""}:                           n,
		{"/quote", "http.response.body", "cleaned", "close", "drained=true"}:              n,
		{"/quote", "http.response.body", "leaked_without_close", "gc", "released=true"}:   n,
		{"/export", "db.conn", "cleaned", "close", ""}:                                    n,
		{"/export", "db.rows", "cleaned", "close", "closed_by=caller"}:                    n,
		{"/catalog", "http.response.body", "leaked_without_close", "gc", "released=true"}: n, // chunked
	}
}

// wantOutlived is, by route and lifetime name, how many lifetimes NewHandler
// reports as outliving their request in n rounds.
func wantOutlived(n int) map[[2]string]int {
	return map[[2]string]int{
		{"/leak", "db.rows"}:               n,
		{"/lookup", "db.rows"}:             n,
		{"/transfer", "db.tx"}:             n, // the rolled back one
		{"/quote", "http.response.body"}:   n, // the forgotten one
		{"/export", "db.conn"}:             n,
		{"/catalog", "http.response.body"}: n,
	}
}

// detail is the attribute of a lifetime's span that tells its story from
// its neighbours'.
func detail(name string, a map[attribute.Key]string) string {
	switch {
	case a["otelguard.outcome"] == string(otelguard.OutcomeLeaked):
		return "released=" + a["otelguard.leak.released"]
	case name == "db.tx":
		return "result=" + a["otelguard.db.tx.result"]
	case name == "db.rows":
		return "closed_by=" + a["otelguard.db.closed_by"]
	case name == "http.response.body":
		return "drained=" + a["otelguard.http.body.drained"]
	}
	return ""
}

// stacks is, by route, the function each leak's code.stacktrace must name.
var stacks = map[string]string{
	"/leak":    ".(*server).handleLeak(",
	"/quote":   ".(*server).handleQuote(",
	"/catalog": ".(*server).handleCatalog(",
}

// TestSelftestTellsEveryStory runs the selftest with the spans recorded in
// memory (the end-to-end tests in e2e/ check the same against Jaeger).
func TestSelftestTellsEveryStory(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const n = 2
	rec := tracetest.NewSpanRecorder()
	var log bytes.Buffer
	cfg := config{addr: "127.0.0.1:0", selftest: n, db: t.TempDir() + "/service.db", log: &log}
	if err := run(context.Background(), cfg, io.Discard, sdktrace.WithSpanProcessor(rec)); err != nil {
		t.Fatal(err)
	}

	requests := map[trace.SpanID]string{} // server span → its route
	parents := map[trace.SpanID]trace.SpanID{}
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			requests[s.SpanContext().SpanID()] = attrs(s.Attributes())["http.route"]
		}
		parents[s.SpanContext().SpanID()] = s.Parent().SpanID()
	}
	// route is the route of the request a lifetime's span is under: its
	// parent's, or its parent's parent's for a lifetime acquired by
	// another's release (the report's upload).
	route := func(s sdktrace.ReadOnlySpan) (string, bool) {
		for id := s.Parent().SpanID(); id.IsValid(); id = parents[id] {
			if r, ok := requests[id]; ok {
				return r, true
			}
		}
		return "", false
	}
	count := map[story]int{}
	outlived := map[[2]string]int{}
	for _, s := range rec.Ended() {
		a := attrs(s.Attributes())
		if a["otelguard.kind"] == "" || s.Name() == "otelguard.finding" {
			continue // not a lifetime (a finding is about one)
		}
		route, ok := route(s)
		if !ok {
			t.Errorf("%s %s: parent %s is not under a request span", s.Name(), a["otelguard.outcome"], s.Parent().SpanID())
		}
		count[story{route, s.Name(), a["otelguard.outcome"], a["otelguard.trigger"], detail(s.Name(), a)}]++

		for _, ev := range s.Events() {
			if ev.Name != "otelguard.request.outlived" {
				continue
			}
			outlived[[2]string{route, s.Name()}]++
			if ea := attrs(ev.Attributes); ea["http.route"] != route || ea["http.request.method"] != "GET" {
				t.Errorf("%s under %s: %s event with %v, want http.route=%s and http.request.method=GET", s.Name(), route, ev.Name, ea, route)
			}
		}
		if a["otelguard.outcome"] == string(otelguard.OutcomeLeaked) {
			if st := a["code.stacktrace"]; !strings.Contains(st, stacks[route]) {
				t.Errorf("leaked %s under %s: code.stacktrace does not name %s:\n%s", s.Name(), route, stacks[route], st)
			}
		}
		if s.Name() == "report.archive" {
			for _, kv := range s.Attributes() {
				if kv.Key == "otelguard.cleanup.duration_ms" && kv.Value.AsFloat64() < float64(archiveTime.Milliseconds()) {
					t.Errorf("report.archive: cleanup took %vms, want at least %v", kv.Value.AsFloat64(), archiveTime)
				}
			}
		}
	}
	for want, wantN := range wantStories(n) {
		if got := count[want]; got != wantN {
			t.Errorf("%+v: %d lifetimes, want %d", want, got, wantN)
		}
	}
	if len(count) != len(wantStories(n)) {
		t.Errorf("lifetimes of %d stories, want %d", len(count), len(wantStories(n)))
	}
	for want, wantN := range wantOutlived(n) {
		if got := outlived[want]; got != wantN {
			t.Errorf("%v: %d %s events, want %d", want, got, "otelguard.request.outlived", wantN)
		}
	}
	if len(outlived) != len(wantOutlived(n)) {
		t.Errorf("%s events on %v, want only on %v", "otelguard.request.outlived", outlived, wantOutlived(n))
	}
	if t.Failed() {
		t.Logf("lifetimes seen: %v", count)
	}
	// Every lifetime that outlived its request was told on the Tracker's
	// logger too.
	if got, want := strings.Count(log.String(), `msg="otelguard: lifetime outlived its request"`), len(wantOutlived(1))*n; got != want {
		t.Errorf("%d outlived-request warnings, want %d:\n%s", got, want, log.String())
	}
}

func attrs(kvs []attribute.KeyValue) map[attribute.Key]string {
	m := make(map[attribute.Key]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}
