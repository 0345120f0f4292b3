package spanleak

import (
	"fmt"
	"testing"

	"github.com/otelguard/otelguard-go/internal/sitecount"
)

// "The first 16 spans of every site are watched" holds past the table's
// 4096 sites: sites that take each other's slots start counting again
// (watched more, never less).
func TestFirstSpansOfEverySiteAreWatchedPastTheBound(t *testing.T) {
	var s sitecount.Table[siteKey]
	const sites, n = 3 * sitecount.Size, 1000 // 12288 sites
	keys := make([]siteKey, sites)
	for i := range keys {
		keys[i] = siteKey{"scope", fmt.Sprint("span", i)}
	}
	for round := range sitecount.FirstWatched { // interleaved: sites evict each other between their starts
		for i, k := range keys {
			if !s.Watched(k, n) {
				t.Fatalf("site %d, start %d: not watched", i, round)
			}
		}
	}
	// A site alone in the table counts on: 16 watched, then one in n.
	k := siteKey{"scope", "alone"}
	watched := 0
	for range sitecount.FirstWatched + 3*n {
		if s.Watched(k, n) {
			watched++
		}
	}
	if watched != sitecount.FirstWatched+3 {
		t.Fatalf("%d of %d starts watched, want %d", watched, sitecount.FirstWatched+3*n, sitecount.FirstWatched+3)
	}
}
