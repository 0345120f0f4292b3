package e2e

import (
	"testing"
)

// TestQuickstartOutcomes runs examples/quickstart against Jaeger, as the
// README tells users to, and finds each outcome it produces by tag search.
func TestQuickstartOutcomes(t *testing.T) {
	bin := example(t, "quickstart")
	svc := serviceName(t)
	runExample(t, bin, otlpEnv(shared, svc))

	for _, c := range []struct {
		tags map[string]string
		// tags each span found must also carry ("" for any value)
		also map[string]string
	}{
		{tags: map[string]string{"otelguard.outcome": "cleaned"}},
		{tags: map[string]string{"otelguard.outcome": "disarmed"}, also: map[string]string{"otelguard.trigger": "disarm"}},
		{tags: map[string]string{"otelguard.outcome": "failed"}, also: map[string]string{"error": "true", "error.type": ""}},
		{tags: map[string]string{"otelguard.outcome": "timed_out"}, also: map[string]string{"error": "true", "error.type": "timeout"}},
		{tags: map[string]string{"otelguard.outcome": "leaked_without_close"}, also: map[string]string{"error": "true", "otelguard.trigger": "gc", "code.stacktrace": ""}},
		{tags: map[string]string{"otelguard.outcome": "open_at_shutdown"}, also: map[string]string{"otelguard.trigger": "shutdown", "code.stacktrace": ""}},
		{tags: map[string]string{"otelguard.trigger": "cancel"}, also: map[string]string{"otelguard.outcome": "cleaned"}}, // CloseOnCancel
		{tags: map[string]string{"otelguard.kind": "scope"}, also: map[string]string{"otelguard.outcome": "cleaned"}},
		{tags: map[string]string{"otelguard.trigger": "scope"}, also: map[string]string{"otelguard.outcome": "cleaned"}}, // its members
	} {
		for _, m := range shared.searchAtLeast(t, svc, c.tags, 1) {
			s := m.span
			for k, v := range c.also {
				got, ok := s.tag(k)
				if !ok || (v != "" && s.str(k) != v) {
					t.Errorf("%v: span %s %s: tag %s = %v, want %q", c.tags, s.OperationName, s.SpanID, k, got, v)
				}
			}
			if p := s.parent(); p != "" && m.spanByID(p) == nil {
				t.Errorf("%v: span %s %s: parent %s is not in trace %s", c.tags, s.OperationName, s.SpanID, p, m.trace.TraceID)
			}
		}
	}
}
