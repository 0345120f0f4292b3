package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// spansvcScope is the instrumentation scope of spansvc's own spans.
const spansvcScope = "github.com/otelguard/otelguard-go/e2e/spansvc"

var (
	spansvcOnce sync.Once
	spansvc     string // spansvc's binary, built at the first test that needs it
	spansvcErr  error
)

// buildSpansvc builds spansvc, a module of its own (its doc says why), as
// it builds, from its own go.mod, once per run.
func buildSpansvc(t *testing.T) string {
	t.Helper()
	needJaeger(t)
	spansvcOnce.Do(func() {
		bin := filepath.Join(workDir, "spansvc")
		spansvcErr = goCmd(filepath.Join(repoRoot, "e2e", "spansvc"), "build", "-race", "-trimpath", "-o", bin, ".")
		spansvc = bin
	})
	if spansvcErr != nil {
		t.Fatal(spansvcErr)
	}
	return spansvc
}

// TestSpanNotEnded: issue 28's story. spansvc's GET /orders/{id} starts a
// span and, on a bad quantity, answers 400 without ending it; its
// TracerProvider runs otelguard/spanleak (every span watched) before the
// exporting processor. The test sends requests on both paths, each in a
// trace of its own (a traceparent header), has the service collect
// garbage, and shuts it down. Jaeger's tag search
// otelguard.finding=span_not_ended then returns exactly one finding for
// each request on the error path and none for the others: a root span
// named otelguard.finding, otelguard.name=order.lookup, its code.stacktrace
// starting at the handler, at the line of its tracer.Start call (read from
// spansvc's source), and a link into that request's trace to a span the
// trace does not have — the hole. The requests on the good path have their
// order.lookup span, under their server span. The span spansvc holds open
// until it exits (a subscription) is not found dropped, and its shutdown
// reports it: otelguard.finding=open_at_shutdown, starting at its handler.
// Every finding is also a Warn record on the service's output.
func TestSpanNotEnded(t *testing.T) {
	bin := buildSpansvc(t)
	svc := serviceName(t)
	p := startProcess(t, bin, otlpEnv(shared, svc), "-watch-stdin")
	t.Cleanup(func() { stopProcess(t, p) })

	var base string
	select {
	case line := <-p.lines:
		base = strings.TrimPrefix(line, "listening on ")
	case <-p.exited:
		t.Fatalf("spansvc exited %d: %s", p.cmd.ProcessState.ExitCode(), p.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("spansvc did not say where it listens within a minute: %s", p.stderr)
	}

	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	// send sends a request in a trace of its own, whose ID it returns.
	send := func(method, path string, want int) string {
		t.Helper()
		traceID, parent := randomHexID(t, 16), randomHexID(t, 8)
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s %q, want %d", method, path, resp.Status, b, want)
		}
		return traceID
	}
	// The error path three times, the good path twice, interleaved.
	var bad, good []string
	for i, qty := range []string{"2", "x", "0", "5", "-1"} {
		path := fmt.Sprintf("/orders/%d?qty=%s", 100+i, qty)
		if n, err := strconv.Atoi(qty); err == nil && n > 0 {
			good = append(good, send(http.MethodGet, path, http.StatusOK))
		} else {
			bad = append(bad, send(http.MethodGet, path, http.StatusBadRequest))
		}
	}
	sub := send(http.MethodPost, "/subscriptions", http.StatusCreated)

	// The service collects until its Tracker has counted a finding for
	// each span dropped.
	resp, err := client.Post(fmt.Sprintf("%s/debug/collect?want=%d", base, len(bad)), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != strconv.Itoa(len(bad)) {
		t.Fatalf("POST /debug/collect: %s %q, want %d span_not_ended findings counted", resp.Status, b, len(bad))
	}

	// Shut down: spanleak reports the subscription, open, and the spans
	// are flushed to Jaeger.
	stopProcess(t, p)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("spansvc exited %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
	}

	// Its Warn records, every line of its output once it has exited.
	records := map[string][]string{} // finding → names
	for done := false; !done; {
		select {
		case line := <-p.lines:
			var rec struct {
				Finding string `json:"otelguard.finding"`
				Name    string `json:"otelguard.name"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Finding == "" {
				t.Errorf("spansvc wrote %q, not a finding's record", line)
				continue
			}
			records[rec.Finding] = append(records[rec.Finding], rec.Name)
		default:
			done = true
		}
	}
	if got := records["span_not_ended"]; len(got) != len(bad) || strings.Count(strings.Join(got, " "), "order.lookup") != len(bad) {
		t.Errorf("span_not_ended records name %v, want order.lookup %d times", got, len(bad))
	}
	if got := records["open_at_shutdown"]; len(got) != 1 || got[0] != "subscription" {
		t.Errorf("open_at_shutdown records name %v, want subscription once", got)
	}

	src := filepath.Join(repoRoot, "e2e", "spansvc")
	file, line := acquireLine(t, src, "handleOrder", "Start")

	// Jaeger finds the spans dropped by tag: one finding each.
	ms := shared.searchAtLeast(t, svc, map[string]string{"otelguard.finding": "span_not_ended"}, len(bad))
	if len(ms) != len(bad) {
		t.Errorf("otelguard.finding=span_not_ended found %d spans, want %d (one for each request on the error path)", len(ms), len(bad))
	}
	holes := map[string]string{} // trace ID → the span ID a finding links to in it
	for i, m := range ms {
		s := m.span
		if i == 0 {
			t.Logf("finding %s: otelguard.age_ms %s, code.stacktrace:\n%s", s.SpanID, s.str("otelguard.age_ms"), s.str("code.stacktrace"))
		}
		checkSpanleakFinding(t, s, "order.lookup")
		if err := firstFrameIs(s.str("code.stacktrace"), "main.(*server).handleOrder", "e2e/spansvc/"+file, line); err != nil {
			t.Errorf("finding %s: %v", s.SpanID, err)
		}
		trace, span := spanleakLink(t, m)
		if !hasTraceID(bad, trace) {
			t.Errorf("finding %s links to trace %s, not one of the requests on the error path %v", s.SpanID, trace, bad)
		} else if prev, dup := holes[normTraceID(trace)]; dup {
			t.Errorf("finding %s links to trace %s, as another finding does (span %s)", s.SpanID, trace, prev)
		}
		holes[normTraceID(trace)] = span
	}

	// Each trace of the error path has its request's server span and a
	// hole where the finding's link points; each trace of the good path
	// has its order.lookup span, under the server span.
	for _, id := range bad {
		tr := spansOfTrace(t, id)
		server := serverSpanOf(tr)
		if server == nil {
			t.Errorf("trace %s (error path): no server span; spans %v", id, spanNamesOf(tr))
		} else if got := server.str("http.response.status_code"); got != "400" {
			t.Errorf("trace %s (error path): server span's http.response.status_code %q, want 400", id, got)
		}
		hole, ok := holes[normTraceID(id)]
		if !ok {
			t.Errorf("trace %s (error path): no finding links to it", id)
			continue
		}
		for i := range tr {
			if normTraceID(tr[i].SpanID) == normTraceID(hole) || tr[i].OperationName == "order.lookup" {
				t.Errorf("trace %s (error path) has span %s %s: the span never ended was exported", id, tr[i].OperationName, tr[i].SpanID)
			}
		}
	}
	for _, id := range good {
		tr := spansOfTrace(t, id)
		server := serverSpanOf(tr)
		var lookup *jSpan
		for i := range tr {
			if tr[i].OperationName == "order.lookup" {
				lookup = &tr[i]
			}
		}
		if server == nil || lookup == nil || lookup.parent() != server.SpanID {
			t.Errorf("trace %s (good path): want order.lookup under the server span; spans %v", id, spanNamesOf(tr))
		}
	}

	// The span open at shutdown: reported as such, never as dropped.
	file, line = acquireLine(t, src, "handleSubscribe", "Start")
	ms = shared.searchAtLeast(t, svc, map[string]string{"otelguard.finding": "open_at_shutdown"}, 1)
	if len(ms) != 1 {
		t.Errorf("otelguard.finding=open_at_shutdown found %d spans, want 1", len(ms))
	}
	s := ms[0].span
	checkSpanleakFinding(t, s, "subscription")
	if err := firstFrameIs(s.str("code.stacktrace"), "main.(*server).handleSubscribe", "e2e/spansvc/"+file, line); err != nil {
		t.Errorf("finding %s: %v", s.SpanID, err)
	}
	if trace, _ := spanleakLink(t, ms[0]); normTraceID(trace) != normTraceID(sub) {
		t.Errorf("open_at_shutdown finding %s links to trace %s, want the subscription's %s", s.SpanID, trace, sub)
	}
}

// checkSpanleakFinding checks what every finding of spanleak carries in
// Jaeger: a root span named otelguard.finding, about a span named name of
// spansvc's scope, with an age and a stack, none folded into it.
func checkSpanleakFinding(t *testing.T, s *jSpan, name string) {
	t.Helper()
	if s.OperationName != "otelguard.finding" || s.parent() != "" {
		t.Errorf("finding %s: named %q with parent %q, want a root span named otelguard.finding", s.SpanID, s.OperationName, s.parent())
	}
	for k, v := range map[string]string{
		"otelguard.name": name, "otelguard.kind": "span", "otel.scope.name": spansvcScope,
	} {
		if got := s.str(k); got != v {
			t.Errorf("finding %s: %s = %q, want %q", s.SpanID, k, got, v)
		}
	}
	if age, ok := s.tag("otelguard.age_ms"); !ok {
		t.Errorf("finding %s: no otelguard.age_ms", s.SpanID)
	} else if f, ok := age.(float64); !ok || f <= 0 {
		t.Errorf("finding %s: otelguard.age_ms = %v, want a positive number", s.SpanID, age)
	}
	if r, ok := s.tag("otelguard.repeats"); ok {
		t.Errorf("finding %s: otelguard.repeats = %v: findings were folded, WithLeakLogInterval(-1) should log each", s.SpanID, r)
	}
}

// spanleakLink returns the trace and span IDs of the one link of m's
// finding span, a FOLLOWS_FROM reference in Jaeger's JSON.
func spanleakLink(t *testing.T, m match) (traceID, spanID string) {
	t.Helper()
	var tr struct {
		Data []struct {
			Spans []struct {
				SpanID     string `json:"spanID"`
				References []struct {
					RefType string `json:"refType"`
					TraceID string `json:"traceID"`
					SpanID  string `json:"spanID"`
				} `json:"references"`
			} `json:"spans"`
		} `json:"data"`
	}
	if err := shared.get("/api/traces/"+m.trace.TraceID, &tr); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range tr.Data {
		for _, sp := range d.Spans {
			if sp.SpanID != m.span.SpanID {
				continue
			}
			for _, r := range sp.References {
				if r.RefType == "FOLLOWS_FROM" {
					traceID, spanID = r.TraceID, r.SpanID
					n++
				}
			}
		}
	}
	if n != 1 {
		t.Fatalf("finding %s: %d links, want 1", m.span.SpanID, n)
	}
	return traceID, spanID
}

// spansOfTrace returns the spans of trace id that Jaeger has.
func spansOfTrace(t *testing.T, id string) []jSpan {
	t.Helper()
	var body struct {
		Data []jTrace `json:"data"`
	}
	if err := shared.get("/api/traces/"+id, &body); err != nil {
		t.Fatal(err)
	}
	var spans []jSpan
	for _, tr := range body.Data {
		spans = append(spans, tr.Spans...)
	}
	return spans
}

func serverSpanOf(spans []jSpan) *jSpan {
	for i := range spans {
		if spans[i].str("span.kind") == "server" {
			return &spans[i]
		}
	}
	return nil
}

func spanNamesOf(spans []jSpan) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.OperationName+" "+s.SpanID)
	}
	return names
}

// normTraceID is a trace or span ID as Jaeger may print it, without leading
// zeros, to compare IDs however either side wrote them.
func normTraceID(id string) string { return strings.TrimLeft(strings.ToLower(id), "0") }

func hasTraceID(ids []string, id string) bool {
	for _, x := range ids {
		if normTraceID(x) == normTraceID(id) {
			return true
		}
	}
	return false
}

// randomHexID returns n random bytes, in hex: a W3C trace or parent ID (an
// all-zero one, invalid, has probability 2^-64 or less).
func randomHexID(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
