package spanleak

import (
	"fmt"
	"testing"
)

// "The first 16 spans of every site are watched" holds past the table's
// 4096 sites: sites that take each other's slots start counting again
// (watched more, never less).
func TestFirstSpansOfEverySiteAreWatchedPastTheBound(t *testing.T) {
	var s siteCounts
	const sites, n = 3 * siteBuckets * siteWays, 1000 // 12288 sites
	keys := make([]siteKey, sites)
	for i := range keys {
		keys[i] = siteKey{"scope", fmt.Sprint("span", i)}
	}
	for round := range firstWatched { // interleaved: sites evict each other between their starts
		for i, k := range keys {
			if !s.watched(k, n) {
				t.Fatalf("site %d, start %d: not watched", i, round)
			}
		}
	}
	// A site alone in the table counts on: 16 watched, then one in n.
	k := siteKey{"scope", "alone"}
	watched := 0
	for range firstWatched + 3*n {
		if s.watched(k, n) {
			watched++
		}
	}
	if watched != firstWatched+3 {
		t.Fatalf("%d of %d starts watched, want %d", watched, firstWatched+3*n, firstWatched+3)
	}
}
