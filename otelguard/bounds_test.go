package otelguard_test

// No cliffs in the leak log's per-site limit: past the bound the log
// keeps limiting (records folded and counted, never dropped, output
// bounded); below it, each site is limited on its own.

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

// countingHandler counts Warn records and the repeats they stand for.
type countingHandler struct {
	mu        sync.Mutex
	records   int   // every record
	summaries int   // records that stand for folded ones
	repeats   int64 // how many they stand for
	names     map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records++
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "otelguard.repeats":
			h.summaries++
			h.repeats += a.Value.Int64()
		case "code.stacktrace":
			if h.names == nil {
				h.names = map[string]int{}
			}
			h.names[a.Value.String()]++
		}
		return true
	})
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// Two call sites each get their record in the same interval; one site's
// second leak in it is folded (the limit is per site, not per name: both
// sites use the same name).
func TestLeakLogLimitIsPerCallSite(t *testing.T) {
	lg := &countingHandler{}
	h := newHarness(t, otelguard.WithLogger(slog.New(lg)), otelguard.WithLeakLogInterval(time.Hour))
	for i := range 3 {
		if i == 1 {
			openAtSiteB(h.tr)
		} else {
			openAtSiteA(h.tr) // one line: one acquire stack, one site
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = h.tr.Shutdown(ctx) // reports all three open_at_shutdown, then the summary
	if lg.records != 3 || lg.repeats != 1 {
		t.Fatalf("%d records standing for %d repeats; want 2 at once and 1 summary of 1", lg.records, lg.repeats)
	}
	a, b := 0, 0
	for s, n := range lg.names {
		if strings.Contains(s, "openAtSiteA") {
			a += n
		}
		if strings.Contains(s, "openAtSiteB") {
			b += n
		}
	}
	if a != 2 || b != 1 {
		t.Fatalf("records per site: A %d, B %d; want 2 (record, summary) and 1", a, b)
	}
}

//go:noinline
func openAtSiteA(tr *otelguard.Tracker) {
	otelguard.NewGuard(context.Background(), "same.name", nop, otelguard.WithTracker(tr)) //otelguard:handoff reported at shutdown
}

//go:noinline
func openAtSiteB(tr *otelguard.Tracker) {
	otelguard.NewGuard(context.Background(), "same.name", nop, otelguard.WithTracker(tr)) //otelguard:handoff reported at shutdown
}

// Past the bound: 16,384 distinct acquire stacks (more than the 8192 the
// stack table interns and the 4096 sites limited apart), each open twice
// at Shutdown, within one interval. v1 gave every stack past the intern
// table its own limit and a map entry never removed, and logged every
// one. Now the output stays bounded and every lifetime is accounted for:
// logged, or counted in a summary's repeats.
func TestLeakLogLimitHoldsPast16000Stacks(t *testing.T) {
	lg := &countingHandler{}
	h := newHarness(t, otelguard.WithLogger(slog.New(lg)), otelguard.WithLeakLogInterval(time.Hour))
	const depth = 14 // 2^14 distinct stacks
	for i := range 1 << depth {
		for range 2 {
			openAtPath(h.tr, i, depth)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := h.tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	total := int64(lg.records-lg.summaries) + lg.repeats
	if want := int64(2 << depth); total != want {
		t.Fatalf("%d records (%d summaries standing for %d) account for %d lifetimes, want %d",
			lg.records, lg.summaries, lg.repeats, total, want)
	}
	// One record at once per limited site at most (4096), plus at most one
	// summary per slot.
	if lg.records > 2*4096 {
		t.Fatalf("%d records for %d lifetimes: the limit stopped limiting", lg.records, 2<<depth)
	}
}

// openAtPath acquires at the end of a path of calls that spells i in
// binary: a distinct acquire stack for each i.
//
//go:noinline
func openAtPath(tr *otelguard.Tracker, i, depth int) {
	if depth == 0 {
		otelguard.NewGuard(context.Background(), "deep", nop, otelguard.WithTracker(tr)) //otelguard:handoff reported at shutdown
		return
	}
	if i&1 == 0 {
		pathZero(tr, i>>1, depth-1)
	} else {
		pathOne(tr, i>>1, depth-1)
	}
}

//go:noinline
func pathZero(tr *otelguard.Tracker, i, depth int) { openAtPath(tr, i, depth) }

//go:noinline
func pathOne(tr *otelguard.Tracker, i, depth int) { openAtPath(tr, i, depth) }
