package e2e

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exporterTimeout is the OTLP exporter's timeout in this test
// (OTEL_EXPORTER_OTLP_TIMEOUT; 10s is also its default): an export to a
// Jaeger that does not answer blocks for that long.
const exporterTimeout = 10 * time.Second

// TestJaegerOutage stops the service's Jaeger in the middle of a run:
// SIGSTOP, so that it accepts connections and never answers, the worst
// case for an exporter. The requests (whose releases run on the request
// path) must keep their latency, since spans are batched off that path
// and nothing in otelguard waits on an exporter; and the service must
// still shut down cleanly, in bounded time.
func TestJaegerOutage(t *testing.T) {
	bin := example(t, "service")
	j, err := startJaeger("outage")
	if err != nil {
		t.Fatal(err)
	}
	defer j.stop()

	svc := serviceName(t)
	p := startProcess(t, bin, otlpEnv(j, svc,
		fmt.Sprintf("OTEL_EXPORTER_OTLP_TIMEOUT=%d", exporterTimeout.Milliseconds()),
		"OTEL_BSP_SCHEDULE_DELAY=50",  // export often, so the outage is felt at once
		"OTEL_BSP_MAX_QUEUE_SIZE=256", // and the queue fills: spans are dropped, not waited for
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=64",
	))
	var base string
	select {
	case line := <-p.lines:
		base = strings.TrimPrefix(line, "listening on ")
	case <-p.exited:
		t.Fatalf("service exited: %s", p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("service did not say where it listens")
	}
	client := &http.Client{Timeout: exporterTimeout}
	defer client.CloseIdleConnections()

	before := requestLatencies(t, client, base, 300*time.Millisecond)
	exported := j.searchAtLeast(t, svc, map[string]string{"otelguard.outcome": "cleaned"}, 1)
	t.Logf("Jaeger up: %d requests, p50 %v, max %v; %d cleaned lifetimes exported",
		len(before), percentile(before, 50), slices.Max(before), len(exported))

	if err := j.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	after := requestLatencies(t, client, base, time.Second)
	t.Logf("Jaeger stopped: %d requests, p50 %v, max %v", len(after), percentile(after, 50), slices.Max(after))

	// Loopback requests take about a millisecond: a generous multiple of
	// that, far below the exporter's timeout, is what an exporter blocking
	// the request path would blow through.
	if p50, bound := percentile(after, 50), 10*max(percentile(before, 50), 5*time.Millisecond); p50 > bound {
		t.Errorf("with Jaeger stopped, p50 latency %v > %v (10× p50 before, at least 5ms each)", p50, bound)
	}
	if worst := slices.Max(after); worst > exporterTimeout/4 {
		t.Errorf("with Jaeger stopped, a request took %v: more than a quarter of the exporter's timeout %v", worst, exporterTimeout)
	}

	// SIGTERM: the service stops serving, shuts the Tracker down, and gives
	// up flushing after its shutdown timeout (5s), exiting 0.
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("service still running 30s after SIGTERM")
	}
	took := time.Since(start)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("service exited %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
	}
	if took > 15*time.Second {
		t.Errorf("service took %v to exit with Jaeger stopped, want at most 15s (two 5s shutdown steps, and margin)", took)
	}
	t.Logf("service exited 0 in %v; stderr:\n%s", took.Round(time.Millisecond), p.stderr)
}

// requestLatencies sends rounds of the service's synchronous stories,
// whose releases (Close, a Guard's Run) happen before the response, for
// at least d and at most 1000 requests, and returns each request's latency.
func requestLatencies(t *testing.T, client *http.Client, base string, d time.Duration) []time.Duration {
	t.Helper()
	var lat []time.Duration
	end := time.Now().Add(d)
	for time.Now().Before(end) && len(lat) < 1000 {
		for _, path := range []string{"/query", "/transfer", "/transfer?fail=1", "/report"} {
			start := time.Now()
			resp, err := client.Get(base + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
			if resp.StatusCode >= 500 {
				t.Fatalf("GET %s: %s", path, resp.Status)
			}
		}
	}
	return lat
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
