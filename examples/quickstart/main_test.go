package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstartPrintsEveryOutcome(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"cleaned", "disarmed", "failed", "timed_out", "leaked_without_close", "open_at_shutdown",
		"job.lease", "cancel", // CloseOnCancel
		"request ", "scope", // the Scope and its members
		".leakReportBuffer main.go:", // the leak's acquire site
		"lifetime held too long",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
