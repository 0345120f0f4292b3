package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// resetMillis is examples/service's resetTime: how long the release of a
// /report connection sleeps.
const resetMillis = 150

// TestServiceStories runs examples/service -selftest against Jaeger and
// finds each of its stories there by tag search on otelguard.outcome: each
// lifetime under the request span that acquired it, the leak with the
// stack of the handler that dropped it, the slow release with its
// duration.
func TestServiceStories(t *testing.T) {
	bin := example(t, "service")
	const n = 3
	svc := serviceName(t)
	out := runExample(t, bin, otlpEnv(shared, svc), "-selftest", fmt.Sprint(n))
	t.Logf("service: %s", strings.TrimSpace(out))

	// What each tag search must find: request route, lifetime name and
	// trigger → how many.
	type story struct{ route, name, trigger string }
	want := map[string]map[story]int{
		"cleaned": {
			{"/query", "db.conn", "close"}:        n,
			{"/report", "db.conn", "close"}:       n,
			{"/poll", "db.conn", "cancel"}:        n,
			{"/transfer", "db.conn", "close"}:     2 * n, // committed and rolled back
			{"/transfer", "tx.rollback", "defer"}: n,
		},
		"disarmed": {
			{"/transfer", "tx.rollback", "disarm"}: n,
		},
		"leaked_without_close": {
			{"/leak", "db.conn", "gc"}: n,
		},
	}
	for outcome, stories := range want {
		total := 0
		for _, c := range stories {
			total += c
		}
		got := map[story]int{}
		for _, m := range shared.searchAtLeast(t, svc, map[string]string{"otelguard.outcome": outcome}, total) {
			s := m.span
			// The lifetime is a child of the otelhttp server span of the
			// request that acquired it.
			req := m.spanByID(s.parent())
			if req == nil || req.str("span.kind") != "server" || req.str("otel.scope.name") != otelhttpScope {
				t.Errorf("%s %s (%s): parent %q is not a request span in trace %s", s.OperationName, outcome, s.SpanID, s.parent(), m.trace.TraceID)
				continue
			}
			route := req.str("http.route")
			got[story{route, s.OperationName, s.str("otelguard.trigger")}]++

			switch {
			case outcome == "leaked_without_close":
				if st := s.str("code.stacktrace"); !strings.Contains(st, "main.(*server).handleLeak(") {
					t.Errorf("leaked %s %s: code.stacktrace does not name the leaking handler:\n%s", s.OperationName, s.SpanID, st)
				}
				if s.str("error") != "true" || s.str("otelguard.leak.released") != "true" {
					t.Errorf("leaked %s %s: want error=true and otelguard.leak.released=true, tags %v", s.OperationName, s.SpanID, s.Tags)
				}
			case route == "/report":
				d, ok := s.tag("otelguard.cleanup.duration_ms")
				if ms, isNum := d.(float64); !ok || !isNum || ms < resetMillis {
					t.Errorf("/report's %s %s: otelguard.cleanup.duration_ms = %v, want at least %d", s.OperationName, s.SpanID, d, resetMillis)
				}
			}
		}
		for st, c := range stories {
			if got[st] != c {
				t.Errorf("outcome %s: %d lifetimes %+v, want %d (found %v)", outcome, got[st], st, c, got)
			}
		}
	}

	// The cancelled requests are found by their trigger too.
	if ms := shared.searchAtLeast(t, svc, map[string]string{"otelguard.trigger": "cancel"}, n); len(ms) != n {
		t.Errorf("trigger cancel: %d lifetimes, want %d", len(ms), n)
	}
}

const otelhttpScope = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
