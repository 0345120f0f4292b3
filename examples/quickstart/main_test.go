package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// row is one line of the table quickstart prints.
type row struct {
	name, kind, outcome, trigger, cleanup, site string
}

// parseTable reads the table after its header: each cell is cut at the
// column where the header's word starts (tabwriter aligns every cell of a
// column there), so an empty cell cannot shift the others.
func parseTable(t *testing.T, out string) []row {
	t.Helper()
	lines := strings.Split(out, "\n")
	h := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "NAME ") })
	if h < 0 {
		t.Fatalf("no table header in the output:\n%s", out)
	}
	header := lines[h]
	var cols []int
	for _, w := range []string{"NAME", "KIND", "OUTCOME", "TRIGGER", "CLEANUP", "ACQUIRED AT"} {
		i := strings.Index(header, w)
		if i < 0 || (len(cols) > 0 && i <= cols[len(cols)-1]) {
			t.Fatalf("header %q: column %s missing or out of order", header, w)
		}
		cols = append(cols, i)
	}
	cell := func(l string, c int) string {
		end := len(l)
		if c+1 < len(cols) {
			end = min(end, cols[c+1])
		}
		if cols[c] >= end {
			return ""
		}
		return strings.TrimSpace(l[cols[c]:end])
	}
	var rows []row
	for _, l := range lines[h+1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		rows = append(rows, row{cell(l, 0), cell(l, 1), cell(l, 2), cell(l, 3), cell(l, 4), cell(l, 5)})
	}
	return rows
}

func TestQuickstartPrintsEveryOutcome(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	rows := parseTable(t, got)

	ran := func(r row) bool { // a release ran: its duration, printed
		d, err := time.ParseDuration(r.cleanup)
		return err == nil && d > 0
	}
	none := func(r row) bool { return r.cleanup == "-" }
	noSite := func(r row) bool { return r.site == "-" }
	// "function file:line"; the function's package is main, or the
	// package's import path under go test.
	siteIn := func(fn string) func(row) bool {
		return func(r row) bool {
			f, line, ok := strings.Cut(r.site, " ")
			return ok && strings.HasSuffix(f, "."+fn) && strings.HasPrefix(line, "main.go:")
		}
	}
	want := []struct {
		name, kind, outcome, trigger string
		cleanup                      func(row) bool
		site                         func(row) bool
	}{
		{"db.conn", "resource", "cleaned", "close", ran, noSite},
		{"tx.rollback", "guard", "disarmed", "disarm", none, noSite},
		{"cache.flush", "resource", "failed", "close", ran, noSite},
		// Close gives up at its deadline, 50 ms after the context was
		// made, long before the release's 300 ms sleep ends.
		{"socket.drain", "resource", "timed_out", "close", func(r row) bool {
			d, err := time.ParseDuration(r.cleanup)
			return err == nil && d > 0 && d < 300*time.Millisecond
		}, noSite},
		{"request.conn", "resource", "cleaned", "scope", ran, noSite},
		{"request.tmpfile", "guard", "cleaned", "scope", ran, noSite},
		{"request", "scope", "cleaned", "close", ran, noSite},
		{"job.lease", "resource", "cleaned", "cancel", ran, noSite},
		{"slow.query", "resource", "cleaned", "close", ran, noSite},
		{"report.buffer", "resource", "leaked_without_close", "gc", none, siteIn("leakReportBuffer")},
		{"worker.lock", "guard", "open_at_shutdown", "shutdown", none, siteIn("exercise")},
	}
	index := map[string]int{}
	for i, r := range rows {
		if _, dup := index[r.name]; dup {
			t.Errorf("%s has two rows", r.name)
		}
		index[r.name] = i
	}
	for _, w := range want {
		i, ok := index[w.name]
		if !ok {
			t.Errorf("no row for %s", w.name)
			continue
		}
		r := rows[i]
		if r.kind != w.kind || r.outcome != w.outcome || r.trigger != w.trigger {
			t.Errorf("%s: %s %s %s, want %s %s %s", w.name, r.kind, r.outcome, r.trigger, w.kind, w.outcome, w.trigger)
		}
		if !w.cleanup(r) {
			t.Errorf("%s: cleanup %q", w.name, r.cleanup)
		}
		if !w.site(r) {
			t.Errorf("%s: acquired at %q", w.name, r.site)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rows), len(want))
	}
	// A scope releases newest first, and ends after its members.
	if c, f, s := index["request.conn"], index["request.tmpfile"], index["request"]; !(c < f && f < s) {
		t.Errorf("scope rows in the order request.conn %d, request.tmpfile %d, request %d: want newest member first, then the scope", c, f, s)
	}
	// The held-too-long warning names the lifetime held too long.
	if !slices.ContainsFunc(strings.Split(got, "\n"), func(l string) bool {
		return strings.Contains(l, "lifetime held too long") && strings.Contains(l, "otelguard.name=slow.query")
	}) {
		t.Error("no held-too-long warning naming slow.query")
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}
