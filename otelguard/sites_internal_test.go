package otelguard

import (
	"fmt"
	"testing"

	"github.com/otelguard/otelguard-go/internal/sitecount"
)

// No cliffs in leak sampling: "the first 16 acquisitions of every call
// site are watched" holds at site 5,000 as at site 5, past the 4096 sites
// counted apart at once (v1: past 4096 sites every new site shared one
// counter, so a new site's first acquisitions were not watched and its
// leak never found).
func TestLeakSamplingWatchesTheFirst16OfEverySitePastTheBound(t *testing.T) {
	tr := New(WithLeakSampling(1 << 20))
	const sites = 5000
	for s := range sites {
		name := fmt.Sprintf("site-%d", s)
		for i := range sitecount.FirstWatched {
			if !tr.watched(name, kResource, nil) {
				t.Fatalf("site %d: acquisition %d not watched", s, i)
			}
		}
		if tr.watched(name, kResource, nil) {
			t.Fatalf("site %d: acquisition 17 watched at 1 in 2^20", s)
		}
	}
	// An early site comes back after 5,000 others: it may have lost its
	// slot, and is then watched again from zero — more, never less.
	if !tr.watched("site-0", kResource, nil) {
		n := tr.sites.Counter(siteKey{name: "site-0", kind: kResource}).N()
		if n < sitecount.FirstWatched {
			t.Fatalf("site-0 counter %d", n)
		}
	}
}

// The table stays bounded: its size is fixed whatever the number of
// sites.
func TestSiteTablesAreBounded(t *testing.T) {
	tr := New(WithLeakSampling(2))
	for s := range 20000 {
		tr.watched(fmt.Sprintf("site-%d", s), kGuard, nil)
	}
	if n := tr.sites.Len(); n > siteBuckets*siteWays {
		t.Fatalf("%d counters kept, over the bound", n)
	}
}
