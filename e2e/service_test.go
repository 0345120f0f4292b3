package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// archiveMillis is examples/service's archiveTime: how long the upstream's
// archive takes to answer a /report's upload.
const archiveMillis = 150

// serviceStory is a lifetime of examples/service as its stories tell it:
// the route of the request it belongs to, its span's name and trigger, and
// the tag that tells it from its neighbours ("" for none).
type serviceStory struct{ route, name, trigger, detail string }

// storyDetail is that tag of a span, as key=value.
func storyDetail(s *jSpan) string {
	for _, k := range []string{"otelguard.leak.released", "otelguard.db.tx.result", "otelguard.db.closed_by", "otelguard.http.body.drained"} {
		if v := s.str(k); v != "" {
			return k[strings.LastIndexByte(k, '.')+1:] + "=" + v
		}
	}
	return ""
}

// TestServiceStories runs examples/service -selftest against Jaeger and
// finds each of its stories there by tag search, as a user would: on
// otelguard.outcome, each lifetime under the request span that acquired it,
// each leak with the stack of the handler that dropped it, the slow release
// with its duration; on otelguard.db.closed_by=context, what database/sql
// ended because the request did; on http.route, the lifetimes that
// outlived their request, by the otelguard.request.outlived event
// NewHandler gave them.
func TestServiceStories(t *testing.T) {
	bin := example(t, "service")
	const n = 3
	svc := serviceName(t)
	out := runExample(t, bin, otlpEnv(shared, svc), "-selftest", fmt.Sprint(n))
	t.Logf("service: %s", strings.TrimSpace(out[strings.Index(out, "selftest:"):]))

	// What each tag search on otelguard.outcome must find.
	want := map[string]map[serviceStory]int{
		"cleaned": {
			{"/query", "db.rows", "close", "closed_by=caller"}:         n,
			{"/lookup", "db.rows", "cancel", "closed_by=context"}:      n,
			{"/transfer", "db.tx", "close", "result=commit"}:           n,
			{"/transfer", "db.tx", "cancel", "result=rollback"}:        n,
			{"/report", "db.rows", "close", "closed_by=iteration"}:     n,
			{"/report", "report.archive", "close", ""}:                 n,
			{"/report", "http.response.body", "close", "drained=true"}: n, // the upload's
			{"/poll", "poll.subscription", "cancel", ""}:               n,
			{"/quote", "http.response.body", "close", "drained=true"}:  n,
			{"/export", "db.conn", "close", ""}:                        n,
			{"/export", "db.rows", "close", "closed_by=caller"}:        n,
		},
		"leaked_without_close": {
			{"/leak", "db.rows", "gc", "released=true"}:               n, // guardsql closes the rows it finds dropped
			{"/quote", "http.response.body", "gc", "released=true"}:   n,
			{"/catalog", "http.response.body", "gc", "released=true"}: n, // chunked
		},
	}
	// The function each leak's code.stacktrace must name, by route.
	leakers := map[string]string{
		"/leak":    "main.(*server).handleLeak(",
		"/quote":   "main.(*server).handleQuote(",
		"/catalog": "main.(*server).handleCatalog(",
	}
	for outcome, stories := range want {
		total := 0
		for _, c := range stories {
			total += c
		}
		got := map[serviceStory]int{}
		for _, m := range shared.searchAtLeast(t, svc, map[string]string{"otelguard.outcome": outcome}, total) {
			s := m.span
			// The lifetime is under the otelhttp server span of the
			// request that acquired it.
			req := m.request(s)
			if req == nil || req.str("otel.scope.name") != otelhttpScope {
				t.Errorf("%s %s (%s): not under a request span in trace %s", s.OperationName, outcome, s.SpanID, m.trace.TraceID)
				continue
			}
			route := req.str("http.route")
			got[serviceStory{route, s.OperationName, s.str("otelguard.trigger"), storyDetail(s)}]++

			switch {
			case outcome == "leaked_without_close":
				if st := s.str("code.stacktrace"); !strings.Contains(st, leakers[route]) {
					t.Errorf("leaked %s %s: code.stacktrace does not name %s:\n%s", s.OperationName, s.SpanID, leakers[route], st)
				}
				if s.str("error") != "true" {
					t.Errorf("leaked %s %s: want error=true, tags %v", s.OperationName, s.SpanID, s.Tags)
				}
			case s.OperationName == "report.archive":
				d, ok := s.tag("otelguard.cleanup.duration_ms")
				if ms, isNum := d.(float64); !ok || !isNum || ms < archiveMillis {
					t.Errorf("/report's %s %s: otelguard.cleanup.duration_ms = %v, want at least %d", s.OperationName, s.SpanID, d, archiveMillis)
				}
			}
			if s.OperationName == "db.rows" || s.OperationName == "db.tx" || s.OperationName == "db.conn" {
				if sys := s.str("db.system.name"); sys != "sqlite" {
					t.Errorf("%s %s: db.system.name = %q, want sqlite", s.OperationName, s.SpanID, sys)
				}
			}
		}
		for st, c := range stories {
			if got[st] != c {
				t.Errorf("outcome %s: %d lifetimes %+v, want %d", outcome, got[st], st, c)
			}
		}
		if t.Failed() {
			t.Logf("outcome %s: found %v", outcome, got)
		}
	}

	// What database/sql ended because the request's context did: the rows
	// /lookup forgot, the transaction /transfer?fail=1 forgot.
	closedByContext := map[string]int{}
	for _, m := range shared.searchAtLeast(t, svc, map[string]string{"otelguard.db.closed_by": "context"}, 2*n) {
		s := m.span
		if s.str("otelguard.trigger") != "cancel" || s.str("otelguard.outcome") != "cleaned" {
			t.Errorf("%s %s closed_by=context: outcome %s, trigger %s, want cleaned, cancel", s.OperationName, s.SpanID, s.str("otelguard.outcome"), s.str("otelguard.trigger"))
		}
		closedByContext[s.OperationName]++
	}
	if closedByContext["db.rows"] != n || closedByContext["db.tx"] != n {
		t.Errorf("otelguard.db.closed_by=context: %v, want %d db.rows and %d db.tx", closedByContext, n, n)
	}

	// The lifetimes NewHandler reported as outliving their request: found
	// by the route their otelguard.request.outlived event carries (a
	// lifetime's span has no http.route of its own). The rows, transaction
	// and body forgotten above, and /export's connection, which its job
	// closed after the response.
	outlived := map[string]map[string]int{
		"/leak":     {"db.rows": n},
		"/lookup":   {"db.rows": n},
		"/transfer": {"db.tx": n},
		"/quote":    {"http.response.body": n},
		"/export":   {"db.conn": n},
		"/catalog":  {"http.response.body": n},
	}
	for route, names := range outlived {
		total := 0
		for _, c := range names {
			total += c
		}
		got := map[string]int{}
		for _, m := range shared.searchAtLeast(t, svc, map[string]string{"otelguard.kind": "resource", "http.route": route}, total) {
			s := m.span
			if s.OperationName == "otelguard.finding" {
				continue // a finding carries its lifetime's otelguard.kind and request's http.route too
			}
			evs := s.events("otelguard.request.outlived")
			if len(evs) != 1 || evs[0].str("http.route") != route || evs[0].str("http.request.method") != "GET" {
				t.Errorf("%s %s under %s: events %v, want one otelguard.request.outlived with http.route=%s, http.request.method=GET", s.OperationName, s.SpanID, route, s.Logs, route)
			}
			got[s.OperationName]++
		}
		if fmt.Sprint(got) != fmt.Sprint(names) {
			t.Errorf("outlived their %s request: %v, want %v", route, got, names)
		}
	}
	// Everything has been found by now: the routes whose handlers leave
	// nothing open have no lifetime with the event.
	for _, route := range []string{"/query", "/report", "/poll"} {
		ms, err := shared.search(svc, map[string]string{"otelguard.kind": "resource", "http.route": route})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.span.OperationName == "otelguard.finding" {
				t.Errorf("finding %s %s under %s: %s", m.span.str("otelguard.finding"), m.span.SpanID, route, m.span.str("otelguard.name"))
				continue
			}
			t.Errorf("%s %s under %s: reported as outliving its request: %v", m.span.OperationName, m.span.SpanID, route, m.span.Logs)
		}
	}
}

const otelhttpScope = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
