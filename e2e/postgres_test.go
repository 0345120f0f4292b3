package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The PostgreSQL test's timing: the hold threshold of pgservice's database,
// and the timeout of the client whose request waits for a connection.
const (
	pgHold           = 500 * time.Millisecond
	pgRequestTimeout = 3 * time.Second
)

// pgExitNoServer is pgservice's exit status when there is no PostgreSQL
// server to start.
const pgExitNoServer = 3

// TestPostgresPoolExhausted: a handler that leaks rows on an early return
// exhausts a pool of two connections to a real PostgreSQL server (pgx's
// database/sql driver, through guardsql; the server is a throwaway one on
// a free port of 127.0.0.1, in a temporary directory, started and stopped
// with pgservice). The next request waits for a connection until its
// client gives up. Before it does, the hold threshold names both holders,
// with the handler in their stacks; once the garbage collector has run,
// leak detection finds both rows, and Jaeger finds them by tag search:
// leaked_without_close, the handler in code.stacktrace, the hold
// threshold's event dated before the client gave up.
func TestPostgresPoolExhausted(t *testing.T) {
	needJaeger(t)
	svc := serviceName(t)
	// GOGC=off: nothing but the test's /debug/gc collects, so the leaked
	// rows stay open until the hold threshold has spoken.
	p := startProcess(t, pgservice, otlpEnv(shared, svc, "GOGC=off"), "-pool", "2", "-hold", pgHold.String(), "-watch-stdin")
	t.Cleanup(func() { stopProcess(t, p) }) // before startProcess's kill: PostgreSQL is stopped too

	var base string
	select {
	case line := <-p.lines:
		base = strings.TrimPrefix(line, "listening on ")
	case <-p.exited:
		if p.cmd.ProcessState.ExitCode() == pgExitNoServer {
			t.Fatalf("no PostgreSQL server to start: install it (Debian: apt-get install -y postgresql; .ci/run does)\n%s", p.stderr)
		}
		t.Fatalf("pgservice exited %d: %s", p.cmd.ProcessState.ExitCode(), p.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("pgservice did not say where it listens within 2 minutes (PostgreSQL's start?): %s", p.stderr)
	}

	// The Tracker's warnings, as they arrive.
	records := make(chan pgRecord, 100)
	go func() {
		for {
			select {
			case line := <-p.lines:
				r := pgRecord{at: time.Now()}
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					r.Msg = "not a JSON record: " + line
				}
				select {
				case records <- r:
				case <-p.exited:
					return
				}
			case <-p.exited:
				return
			}
		}
	}()

	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	leaked := time.Now()
	for range 2 {
		if code := status(t, client, http.MethodGet, base+"/items/9"); code != http.StatusGone {
			t.Fatalf("GET /items/9: %d, want %d", code, http.StatusGone)
		}
	}

	// The pool is exhausted: the third request waits for a connection.
	type result struct {
		err  error
		took time.Duration
	}
	started := time.Now()
	deadline := started.Add(pgRequestTimeout)
	done := make(chan result, 1)
	go func() {
		c := &http.Client{Timeout: pgRequestTimeout}
		resp, err := c.Get(base + "/items")
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %s", resp.Status)
		}
		done <- result{err, time.Since(started)}
	}()

	var held []pgRecord
	for len(held) < 2 {
		select {
		case r := <-records:
			if r.Msg == "otelguard: lifetime held too long" {
				held = append(held, r)
			}
		case res := <-done:
			t.Fatalf("the waiting request ended (%v, after %v) before the hold threshold named both holders (%d warnings)", res.err, res.took, len(held))
		case <-time.After(pgRequestTimeout + 30*time.Second):
			t.Fatalf("%d held-too-long warnings in %v, want 2", len(held), time.Since(started))
		}
	}
	for _, r := range held {
		if r.Name != "db.rows" || !strings.HasPrefix(r.Stack["0"], "main.(*server).handleItem ") {
			t.Errorf("held too long: %s, acquired at %q; want db.rows acquired in main.(*server).handleItem", r.Name, r.Stack["0"])
		}
		if !r.at.Before(deadline) {
			t.Errorf("a held-too-long warning came %v into the waiting request, after its client's timeout %v", r.at.Sub(started), pgRequestTimeout)
		}
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(pgRequestTimeout + 30*time.Second):
		t.Fatalf("the waiting request still waits %v after its client's timeout", 30*time.Second)
	}
	if ue := (*url.Error)(nil); !errors.As(res.err, &ue) || !ue.Timeout() {
		t.Fatalf("the waiting request: %v, want its client's timeout", res.err)
	}
	t.Logf("the hold threshold (%v) named the holders %v and %v after the leaks, %v and %v into a request whose client gave up after %v",
		pgHold, held[0].at.Sub(leaked).Round(time.Millisecond), held[1].at.Sub(leaked).Round(time.Millisecond),
		held[0].at.Sub(started).Round(time.Millisecond), held[1].at.Sub(started).Round(time.Millisecond), res.took.Round(time.Millisecond))

	// The pool, as database/sql counts it: both connections in use for
	// good, and a request that waited.
	var stats struct{ MaxOpenConnections, OpenConnections, InUse, Idle, WaitCount int }
	getJSON(t, client, base+"/debug/pool", &stats)
	t.Logf("pool: %+v", stats)
	if stats.InUse != 2 || stats.Idle != 0 || stats.WaitCount < 1 {
		t.Errorf("pool: %+v, want 2 in use, none idle, a wait", stats)
	}

	// Leak detection, once a collection has run.
	err := retry(30*time.Second, func() (bool, error) {
		resp, err := client.Post(base+"/debug/gc", "", nil)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return false, fmt.Errorf("POST /debug/gc: %s %q", resp.Status, b)
		}
		return n >= 2, fmt.Errorf("%d leaks found, want 2", n)
	})
	if err != nil {
		t.Fatal(err)
	}

	// Shut down, which flushes the spans to Jaeger.
	stopProcess(t, p)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("pgservice exited %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
	}

	ms := shared.searchAtLeast(t, svc, map[string]string{"otelguard.outcome": "leaked_without_close"}, 2)
	if len(ms) != 2 {
		t.Errorf("%d leaked lifetimes, want 2", len(ms))
	}
	for _, m := range ms {
		s := m.span
		for k, v := range map[string]string{
			"otelguard.trigger": "gc", "db.system.name": "postgresql", "otelguard.hold.exceeded": "true", "error": "true",
		} {
			if got := s.str(k); got != v {
				t.Errorf("leaked %s %s: %s = %q, want %q", s.OperationName, s.SpanID, k, got, v)
			}
		}
		if s.OperationName != "db.rows" {
			t.Errorf("leaked %s %s, want db.rows", s.OperationName, s.SpanID)
		}
		if st := s.str("code.stacktrace"); !strings.HasPrefix(st, "main.(*server).handleItem(") {
			t.Errorf("leaked %s %s: code.stacktrace does not start at the handler:\n%s", s.OperationName, s.SpanID, st)
		}
		if req := m.request(s); req == nil || req.str("http.route") != "/items/{id}" {
			t.Errorf("leaked %s %s: not under the request of GET /items/{id} in trace %s", s.OperationName, s.SpanID, m.trace.TraceID)
		}
		evs := s.events("otelguard.hold.threshold_exceeded")
		if len(evs) != 1 {
			t.Errorf("leaked %s %s: %d otelguard.hold.threshold_exceeded events, want 1: %v", s.OperationName, s.SpanID, len(evs), s.Logs)
		} else if at := evs[0].time(); !at.Before(deadline) {
			t.Errorf("leaked %s %s: held too long at %v, %v into the waiting request: after its client's timeout %v",
				s.OperationName, s.SpanID, at, at.Sub(started), pgRequestTimeout)
		}
		if len(s.events("otelguard.request.outlived")) != 1 {
			t.Errorf("leaked %s %s: no otelguard.request.outlived event: %v", s.OperationName, s.SpanID, s.Logs)
		}
	}
}

// pgRecord is a warning of pgservice's Tracker, a line of its standard
// output.
type pgRecord struct {
	Msg   string            `json:"msg"`
	Name  string            `json:"otelguard.name"`
	Stack map[string]string `json:"code.stacktrace"` // frame number → "function file:line"
	at    time.Time         // when the test read it
}

// stopProcess ends p with SIGTERM, as a service is stopped, and waits for
// it for a bounded time.
func stopProcess(t *testing.T, p *process) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
		return
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Errorf("still running a minute after SIGTERM; stderr:\n%s", p.stderr)
	}
}

// status sends a request without a body and returns its response's status
// code.
func status(t *testing.T, client *http.Client, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// getJSON decodes the JSON answer to a GET.
func getJSON(t *testing.T, client *http.Client, url string, into any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
