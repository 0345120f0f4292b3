package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lateFound is findingsvc stories' report of when its late leak was found.
var lateFound = regexp.MustCompile(`stories: late leak found after (\S+)`)

// TestTailSamplingKeepsFindingsAndBadOutcomes runs deploy/
// jaeger-tail-sampling.yaml as a user runs it, with a 2 s decision wait
// and 20% of the other traces kept, and findingsvc's stories through it:
// a leak the garbage collector finds ten seconds after its request — long
// after that trace was decided — is in Jaeger with its stack; every trace
// with a failed or timed-out lifetime is kept whole; clean traces are kept
// at about the configured share.
func TestTailSamplingKeepsFindingsAndBadOutcomes(t *testing.T) {
	const clean, failed, timedOut, percent = 400, 20, 20, 20
	d := startDeployed(t, "tail", "jaeger-tail-sampling.yaml",
		"BADGER_DIR="+t.TempDir(), "TAIL_DECISION_WAIT=2s", fmt.Sprintf("TAIL_SAMPLE_PERCENT=%d", percent))
	svc := serviceName(t)
	out := runExample(t, findingsv, otlpEnv(d.jaeger, svc, "OTEL_BSP_SCHEDULE_DELAY=200"), "stories",
		"-clean", fmt.Sprint(clean), "-fail", fmt.Sprint(failed), "-timeout", fmt.Sprint(timedOut), "-late", "10s")
	m := lateFound.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("findingsvc stories did not find its late leak:\n%s", out)
	}
	if after, err := time.ParseDuration(m[1]); err != nil || after < 10*time.Second {
		t.Fatalf("late leak found after %s, want at least 10s", m[1])
	}

	// The late leak: its finding, a trace of its own, kept by the policy
	// on otelguard.finding, with the stack of the handler that cached it.
	leaks := d.searchAtLeast(t, svc, map[string]string{"otelguard.finding": "leaked_without_close"}, 1)
	if len(leaks) != 1 {
		t.Errorf("%d leak findings, want 1", len(leaks))
	}
	for _, l := range leaks {
		s := l.span
		if s.str("otelguard.name") != "cache.entry" || s.parent() != "" || !hasLink(s) {
			t.Errorf("leak finding: name %q, parent %q, references %v", s.str("otelguard.name"), s.parent(), s.References)
		}
		if st := s.str("code.stacktrace"); !strings.Contains(st, "main.(*server).handleLate(") {
			t.Errorf("leak finding: code.stacktrace does not name handleLate:\n%s", st)
		}
		if age, _ := s.tag("otelguard.age_ms"); !(age.(float64) >= 10000) {
			t.Errorf("leak finding: otelguard.age_ms = %v, want at least 10000", age)
		}
		// The lifetime's own span arrived as late: stored if its
		// request's trace was kept (the decision cache), dropped if not.
		// Either is right; the finding is what does not depend on it.
		got, err := d.search(svc, map[string]string{"otelguard.outcome": "leaked_without_close"})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the leaked lifetime's own span, arriving 10s after its trace's decision: %d in Jaeger", len(got))
	}

	// Every failed and timed-out lifetime, in its request's trace.
	for _, c := range []struct {
		outcome, name, route string
		n                    int
	}{{"failed", "upload", "/fail", failed}, {"timed_out", "flush", "/timeout", timedOut}} {
		ms := d.searchAtLeast(t, svc, map[string]string{"otelguard.outcome": c.outcome}, c.n)
		if len(ms) != c.n {
			t.Errorf("%d %s lifetimes in Jaeger, want %d", len(ms), c.outcome, c.n)
		}
		for _, m := range ms {
			req := m.request(m.span)
			if m.span.OperationName != c.name || req == nil || req.str("http.route") != c.route {
				t.Errorf("%s %s: not under its %s request span in trace %s", c.outcome, m.span.OperationName, c.route, m.trace.TraceID)
			}
		}
	}

	// Clean traces, kept by the probabilistic policy alone. They were
	// decided before the late leak arrived (sent first, decided 2 s after
	// arrival; the leak 10 s after): found above, so they are stored.
	found, err := d.search(svc, map[string]string{"otelguard.outcome": "cleaned"})
	if err != nil {
		t.Fatal(err)
	}
	var ms []match
	for _, m := range found {
		if m.span.OperationName == "job.lock" {
			ms = append(ms, m)
		}
	}
	// 400 traces kept each with probability 1/5, by a hash of the trace
	// ID: binomial, mean 80, standard deviation 8. 40 to 120 is five
	// standard deviations each way.
	t.Logf("%d of %d clean traces kept at %d%%", len(ms), clean, percent)
	if len(ms) < 40 || len(ms) > 120 {
		t.Errorf("%d of %d clean traces kept at %d%%, want about %d (40 to 120)", len(ms), clean, percent, clean*percent/100)
	}
	for _, m := range ms {
		if req := m.request(m.span); req == nil || req.str("http.route") != "/clean" {
			t.Errorf("clean job.lock %s: not under its /clean request span in trace %s", m.span.SpanID, m.trace.TraceID)
		}
	}
}
