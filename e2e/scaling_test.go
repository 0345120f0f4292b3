package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScalingFigures measures the figures of docs/SCALING.md on this
// machine, with deploy/jaeger-tail-sampling.yaml as a user runs it and
// findingsvc load (raw OTLP/HTTP, no SDK) on loopback:
//
//   - ingest: spans per second one tail-sampling Jaeger accepts for 30 s,
//     10-span traces in requests of 50 traces from 8 senders, with the
//     CPU time Jaeger and the generator used;
//   - memory per pending trace: Jaeger's resident set before and after
//     N traces that wait for a decision (a decision wait of an hour),
//     divided by N, for 10-span and 1-span traces.
//
// It is a measurement, not a check of a bound, and takes minutes of both
// CPUs: it runs only when OTELGUARD_SCALING=1.
//
//	cd e2e && OTELGUARD_SCALING=1 go test -run TestScalingFigures -v -count=1 -timeout 30m .
func TestScalingFigures(t *testing.T) {
	needJaeger(t)
	if os.Getenv("OTELGUARD_SCALING") != "1" {
		t.Skip("a measurement: set OTELGUARD_SCALING=1 to run it")
	}
	// The load generator without the race detector: it must cost the
	// measured Jaeger as little CPU as it can.
	gen := filepath.Join(workDir, "findingsvc-load")
	if err := goCmd(filepath.Join(repoRoot, "e2e", "findingsvc"), "build", "-trimpath", "-o", gen, "."); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average before: %s", strings.TrimSpace(string(b)))
	}

	t.Run("ingest", func(t *testing.T) {
		// Room for every trace that arrives in a decision wait, so that
		// none is dropped undecided: what is measured is what is decided
		// and stored, not only accepted.
		d := startDeployed(t, "ingest", "jaeger-tail-sampling.yaml", "BADGER_DIR="+t.TempDir(), "TAIL_NUM_TRACES=2000000")
		cpu0 := cpuTime(t, d.cmd.Process.Pid)
		start := time.Now()
		cmd := exec.Command(gen, "load", "-endpoint", "http://"+d.otlpHTTP, "-duration", "30s",
			"-workers", "8", "-spans", "10", "-batch", "50")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("load: %v\n%s", err, out)
		}
		t.Logf("%s", strings.TrimSpace(string(out)))
		wall := time.Since(start)
		jcpu := cpuTime(t, d.cmd.Process.Pid) - cpu0
		accepted := metricSum(t, d, "otelcol_receiver_accepted_spans_total", "") / 10 // traces
		t.Logf("%.0f traces accepted; decided by the end of the load: %.0f", accepted,
			metricSum(t, d, "otelcol_processor_tail_sampling_global_count_traces_sampled_total", ""))
		// Every accepted trace decided (and, if kept, stored): the rate the
		// node sustains is what it accepted over the time it took, less the
		// decision wait every trace spends waiting.
		var decided float64
		err = retry(10*time.Minute, func() (bool, error) {
			decided = metricSum(t, d, "otelcol_processor_tail_sampling_global_count_traces_sampled_total", "")
			return decided >= accepted, fmt.Errorf("%.0f of %.0f traces decided", decided, accepted)
		})
		if err != nil {
			t.Fatal(err)
		}
		all := time.Since(start)
		t.Logf("all %.0f traces decided %v after the load started: %.0f spans/s through the whole pipeline (decision wait of 10s excluded), %.0f spans/s including it",
			decided, all.Round(time.Second), 10*accepted/(all-10*time.Second).Seconds(), 10*accepted/all.Seconds())
		t.Logf("Jaeger's CPU over that time: %v", (cpuTime(t, d.cmd.Process.Pid) - cpu0).Round(time.Millisecond))
		gcpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		t.Logf("CPU over the load's %v: Jaeger %v (%.2f cores), load generator %v (%.2f cores)",
			wall.Round(time.Millisecond), jcpu.Round(time.Millisecond), jcpu.Seconds()/wall.Seconds(),
			gcpu.Round(time.Millisecond), gcpu.Seconds()/wall.Seconds())
		t.Logf("Jaeger's resident set after: %.0f MiB", float64(rss(t, d.cmd.Process.Pid))/(1<<20))
		t.Logf("Jaeger's metrics at the end of the load: %s", metricLines(t, d, "otelcol_receiver_accepted_spans", "otelcol_receiver_refused_spans",
			"otelcol_processor_tail_sampling_sampling_trace_dropped_too_early", "otelcol_processor_tail_sampling_sampling_traces_on_memory",
			"otelcol_processor_tail_sampling_global_count_traces_sampled", "otelcol_exporter_sent_spans", "otelcol_exporter_send_failed_spans"))
	})

	for _, spans := range []int{10, 1} {
		t.Run(fmt.Sprintf("pending/spans=%d", spans), func(t *testing.T) {
			const n = 50000
			d := startDeployed(t, "pending", "jaeger-tail-sampling.yaml", "BADGER_DIR="+t.TempDir(),
				"TAIL_DECISION_WAIT=1h", "TAIL_NUM_TRACES=1000000")
			send := func(traces int) {
				out, err := exec.Command(gen, "load", "-endpoint", "http://"+d.otlpHTTP, "-duration", "5m",
					"-traces", fmt.Sprint(traces), "-workers", "2", "-spans", fmt.Sprint(spans), "-batch", "50").CombinedOutput()
				if err != nil {
					t.Fatalf("load: %v\n%s", err, out)
				}
				t.Logf("%s", strings.TrimSpace(string(out)))
			}
			send(1000) // warm up: code paths, pools, the first maps
			before := settledRSS(t, d.cmd.Process.Pid)
			send(n)
			after := settledRSS(t, d.cmd.Process.Pid)
			t.Logf("%d pending traces of %d spans: resident set %.1f MiB → %.1f MiB: %.0f bytes per pending trace (%.0f per span)",
				n, spans, float64(before)/(1<<20), float64(after)/(1<<20),
				float64(after-before)/n, float64(after-before)/float64(n*spans))
			t.Logf("Jaeger's metrics: %s", metricLines(t, d, "otelcol_receiver_accepted_spans", "otelcol_processor_tail_sampling_sampling_traces_on_memory"))
		})
	}
}

// rss is the resident set of process pid, in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// settledRSS is the resident set once it has stopped moving: sampled
// every second until two samples in a row differ by less than 1%, for at
// most 30 s.
func settledRSS(t *testing.T, pid int) int64 {
	t.Helper()
	last := rss(t, pid)
	for range 30 {
		time.Sleep(time.Second)
		now := rss(t, pid)
		if d := now - last; d*100 < now && -d*100 < now {
			return now
		}
		last = now
	}
	return last
}

// cpuTime is the user and system CPU time process pid has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz
}

// metricLines returns the lines of d's Prometheus metrics that start with
// one of names.
func metricLines(t *testing.T, d *deployed, names ...string) string {
	t.Helper()
	resp, err := httpGet("http://" + d.metrics + "/metrics")
	if err != nil {
		return err.Error()
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(resp))
	for sc.Scan() {
		for _, n := range names {
			if strings.HasPrefix(sc.Text(), n) {
				out = append(out, sc.Text())
			}
		}
	}
	return "\n\t" + strings.Join(out, "\n\t")
}

// metricSum is the sum of the values of d's Prometheus metric name, over
// the series whose labels contain label ("" for all).
func metricSum(t *testing.T, d *deployed, name, label string) float64 {
	t.Helper()
	body, err := httpGet("http://" + d.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		if !strings.Contains(l, label) {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		sum += v
	}
	return sum
}
