package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgxAcquireTimeout is how long pgxservice's GET /items waits for a
// connection.
const pgxAcquireTimeout = time.Second

var (
	pgxserviceOnce sync.Once
	pgxservice     string // pgxservice's binary, built at the first test that needs it
	pgxserviceErr  error
)

// buildPgxservice builds pgxservice, a module of its own (its doc says
// why), as it builds, from its own go.mod, once per run.
func buildPgxservice(t *testing.T) string {
	t.Helper()
	needJaeger(t)
	pgxserviceOnce.Do(func() {
		bin := filepath.Join(workDir, "pgxservice")
		pgxserviceErr = goCmd(filepath.Join(repoRoot, "e2e", "pgxservice"), "build", "-race", "-trimpath", "-o", bin, ".")
		pgxservice = bin
	})
	if pgxserviceErr != nil {
		t.Fatal(pgxserviceErr)
	}
	return pgxservice
}

// TestPgxPoolExhausted: a service on pgxpool watched by guardpgx
// (pgxservice, against a throwaway PostgreSQL server on 127.0.0.1), with a
// pool of two connections. GET /export holds one (Pool.Acquire), GET
// /report the other (Pool.Begin); the third request's acquire times out.
// guardpgx emits its pool_exhausted finding then — a Warn record at once,
// and a span through the service's TracerProvider — and Jaeger finds it by
// tag search, otelguard.finding=pool_exhausted, naming both holders: two of
// them, each with its own acquire stack starting at its handler, at the
// line of the call that took the connection (read from pgxservice's
// source), linked to both holders' requests and the waiting one.
func TestPgxPoolExhausted(t *testing.T) {
	bin := buildPgxservice(t)
	svc := serviceName(t)
	p := startProcess(t, bin, otlpEnv(shared, svc), "-pool", "2", "-acquire-timeout", pgxAcquireTimeout.String(), "-watch-stdin")
	t.Cleanup(func() { stopProcess(t, p) }) // before startProcess's kill: PostgreSQL is stopped too

	var base string
	select {
	case line := <-p.lines:
		base = strings.TrimPrefix(line, "listening on ")
	case <-p.exited:
		if p.cmd.ProcessState.ExitCode() == pgExitNoServer {
			t.Fatalf("no PostgreSQL server to start: install it (Debian: apt-get install -y postgresql; .ci/run does)\n%s", p.stderr)
		}
		t.Fatalf("pgxservice exited %d: %s", p.cmd.ProcessState.ExitCode(), p.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("pgxservice did not say where it listens within 2 minutes (PostgreSQL's start?): %s", p.stderr)
	}

	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	// The two holders: each answers 202 once it holds its connection, and
	// its body ends when it lets go.
	var holders []*http.Response
	for _, path := range []string{"/export", "/report"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("GET %s: %s, want 202", path, resp.Status)
		}
		holders = append(holders, resp)
	}

	// The third request waits for a connection, and gives up.
	start := time.Now()
	resp, err := client.Get(base + "/items")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	waited := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || waited < pgxAcquireTimeout {
		t.Fatalf("GET /items: %s %q after %v, want 503 after the acquire's timeout %v", resp.Status, b, waited, pgxAcquireTimeout)
	}

	// The finding's Warn record, on standard output.
	var rec struct {
		Msg     string `json:"msg"`
		Finding string `json:"otelguard.finding"`
		Holders int    `json:"otelguard.holders"`
	}
	deadline := time.After(30 * time.Second)
	for rec.Finding != "pool_exhausted" {
		select {
		case line := <-p.lines:
			rec.Finding = ""
			_ = json.Unmarshal([]byte(line), &rec)
		case <-deadline:
			t.Fatalf("no pool_exhausted record within 30s of the failed acquire")
		}
	}
	if rec.Holders != 2 {
		t.Errorf("pool_exhausted record %q: otelguard.holders=%d, want 2", rec.Msg, rec.Holders)
	}

	// Let the holders go: both requests end.
	if code := status(t, client, http.MethodPost, base+"/debug/release"); code != http.StatusNoContent {
		t.Fatalf("POST /debug/release: %d", code)
	}
	for _, h := range holders {
		if b, err := io.ReadAll(h.Body); err != nil || strings.TrimSpace(string(b)) != "released" {
			t.Errorf("GET %s: %q, %v; want released", h.Request.URL.Path, b, err)
		}
	}

	// Shut down, which flushes the spans to Jaeger.
	stopProcess(t, p)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("pgxservice exited %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
	}

	ms := shared.searchAtLeast(t, svc, map[string]string{"otelguard.finding": "pool_exhausted"}, 1)
	if len(ms) != 1 {
		t.Errorf("%d pool_exhausted findings, want 1", len(ms))
	}
	s := ms[0].span
	for k, v := range map[string]string{
		"otelguard.holders": "2", "error.type": "timeout", "db.system.name": "postgresql", "error": "true",
	} {
		if got := s.str(k); got != v {
			t.Errorf("finding %s: %s = %q, want %q", s.SpanID, k, got, v)
		}
	}
	if s.OperationName != "otelguard.finding" {
		t.Errorf("finding %s is named %q, want otelguard.finding", s.SpanID, s.OperationName)
	}
	t.Logf("finding: holders %s, ages %s ms, waited %s ms", s.str("otelguard.holder.names"), s.str("otelguard.holder.ages_ms"), s.str("otelguard.wait_ms"))

	// Each holder's acquire stack, in code.stacktrace: an entry a holder,
	// "holder i of 2: NAME, held AGE, acquired at:" then the stack.
	src := filepath.Join(repoRoot, "e2e", "pgxservice")
	want := map[string]string{"handleExport": "Acquire", "handleReport": "Begin"}
	entries := strings.Split(strings.TrimSpace(s.str("code.stacktrace")), "\n\n")
	if len(entries) != 2 {
		t.Fatalf("finding %s: code.stacktrace has %d entries, want one for each of the 2 holders:\n%s", s.SpanID, len(entries), s.str("code.stacktrace"))
	}
	named := map[string]bool{}
	for _, e := range entries {
		head, stack, _ := strings.Cut(e, "\n")
		if !strings.HasPrefix(head, "holder ") {
			t.Errorf("finding %s: entry %q does not start with its holder", s.SpanID, head)
		}
		for handler, call := range want {
			if !strings.HasPrefix(stack, "main.(*server)."+handler+"(") {
				continue
			}
			file, line := acquireLine(t, src, handler, call)
			if err := firstFrameIs(stack, "main.(*server)."+handler, "e2e/pgxservice/"+file, line); err != nil {
				t.Errorf("finding %s, %s: %v", s.SpanID, head, err)
			}
			named[handler] = true
		}
	}
	for handler := range want {
		if !named[handler] {
			t.Errorf("finding %s: no holder's stack starts at %s:\n%s", s.SpanID, handler, s.str("code.stacktrace"))
		}
	}

	// Its links: to both holders' requests and to the waiting one, their
	// server spans (Jaeger shows a link as a FOLLOWS_FROM reference).
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
	if err := shared.get("/api/traces/"+ms[0].trace.TraceID, &tr); err != nil {
		t.Fatal(err)
	}
	links := map[string]bool{} // traceID/spanID
	for _, d := range tr.Data {
		for _, sp := range d.Spans {
			if sp.SpanID != s.SpanID {
				continue
			}
			for _, r := range sp.References {
				if r.RefType == "FOLLOWS_FROM" {
					links[r.TraceID+"/"+r.SpanID] = true
				}
			}
		}
	}
	for _, route := range []string{"/export", "/report", "/items"} {
		var server *jSpan
		var trace string
		for _, m := range shared.searchAtLeast(t, svc, map[string]string{"http.route": route}, 1) {
			if m.span.str("span.kind") == "server" {
				server, trace = m.span, m.trace.TraceID
			}
		}
		if server == nil {
			t.Errorf("no server span of GET %s", route)
		} else if !links[trace+"/"+server.SpanID] {
			t.Errorf("finding %s: no link to GET %s's request span %s/%s; links %v", s.SpanID, route, trace, server.SpanID, links)
		}
	}
	if len(links) != 3 {
		t.Errorf("finding %s: %d links, want 3 (two holders' requests, the waiter): %v", s.SpanID, len(links), links)
	}
	if t.Failed() {
		t.Logf("finding %s: tags %v", s.SpanID, s.Tags)
	}
}
