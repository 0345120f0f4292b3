package e2e

import (
	"slices"
	"testing"
)

// TestTwoTiersSurviveStorageKill runs the two-tier layout on one machine:
// deploy/jaeger-collector-tier.yaml (tail sampling) exporting OTLP to
// deploy/jaeger-storage-tier.yaml (Badger in a temporary directory).
// findingsvc's stories go through; the storage process is killed with
// SIGKILL and started again on the same directory: the findings and
// failed lifetimes it had stored are still found by the query API.
func TestTwoTiersSurviveStorageKill(t *testing.T) {
	storage := startDeployed(t, "storage", "jaeger-storage-tier.yaml", "BADGER_DIR="+t.TempDir())
	collector := startDeployed(t, "collector", "jaeger-collector-tier.yaml",
		"STORAGE_OTLP_ENDPOINT="+storage.otlpGRPC, "TAIL_DECISION_WAIT=1s", "TAIL_SAMPLE_PERCENT=0")
	svc := serviceName(t)
	const failed = 5
	runExample(t, findingsv, otlpEnv(collector.jaeger, svc, "OTEL_BSP_SCHEDULE_DELAY=200"), "stories",
		"-clean", "20", "-fail", "5", "-timeout", "0", "-late", "2s")

	queries := []map[string]string{
		{"otelguard.finding": "leaked_without_close"},
		{"otelguard.outcome": "failed"},
	}
	want := []int{1, failed}
	before := make([][]string, len(queries))
	for i, q := range queries {
		before[i] = spanIDs(storage.searchAtLeast(t, svc, q, want[i]))
		if len(before[i]) != want[i] {
			t.Errorf("%v: %d spans stored, want %d", q, len(before[i]), want[i])
		}
	}
	// The collector tier sampled: at 0%, no clean trace reached storage.
	ms, err := storage.search(svc, map[string]string{"otelguard.outcome": "cleaned"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.span.OperationName == "job.lock" {
			t.Errorf("clean lifetime %s stored at TAIL_SAMPLE_PERCENT=0", m.span.SpanID)
		}
	}

	if err := storage.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-storage.exited
	storage.restart(t)
	for i, q := range queries {
		ms, err := storage.search(svc, q)
		if err != nil {
			t.Fatal(err)
		}
		if after := spanIDs(ms); !slices.Equal(after, before[i]) {
			t.Errorf("%v after SIGKILL and restart: spans %v, before %v", q, after, before[i])
		}
	}
}

// spanIDs returns the IDs of the spans found, sorted.
func spanIDs(ms []match) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.span.SpanID)
	}
	slices.Sort(ids)
	return ids
}
