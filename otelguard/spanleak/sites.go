package spanleak

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Sampling's per-site counters: the same table as the core's leak
// sampling (otelguard/sites.go). 4096 sites are counted apart at once; a
// new site past that takes the slot of one counted before, whose count
// starts again at zero if it comes back: a site is never watched less than
// promised, only, past the bound, more.

const (
	siteWays    = 8
	siteBuckets = 512 // siteBuckets × siteWays = 4096 sites apart at once

	// firstWatched is how many spans of each site are watched before
	// sampling starts: a site that forgets End every time is found at once.
	firstWatched = 16
)

var siteSeed = maphash.MakeSeed()

type siteKey struct {
	scope, name string
}

func (k siteKey) hash() uint64 {
	return maphash.String(siteSeed, k.name) ^ (maphash.String(siteSeed, k.scope) * 0x9e3779b97f4a7c15)
}

type siteCounter struct {
	key siteKey
	n   atomic.Uint64
}

// siteCounts is read without a lock: a slot, once filled, is replaced
// whole (a new counter), never changed, so an increment lands on the
// counter of the site that looked it up.
type siteCounts struct {
	tab  [siteBuckets * siteWays]atomic.Pointer[siteCounter]
	mu   sync.Mutex         // fills and replaces slots
	hand [siteBuckets]uint8 // the next way to replace in each bucket; guarded by mu
}

// counter returns k's counter, making one if k has none.
func (s *siteCounts) counter(k siteKey) *siteCounter {
	b := int(k.hash()%siteBuckets) * siteWays
	for i := range siteWays {
		if c := s.tab[b+i].Load(); c != nil && c.key == k {
			return c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range siteWays {
		c := s.tab[b+i].Load()
		if c == nil {
			c = &siteCounter{key: k}
			s.tab[b+i].Store(c)
			return c
		}
		if c.key == k {
			return c
		}
	}
	c := &siteCounter{key: k}
	h := &s.hand[b/siteWays]
	s.tab[b+int(*h)].Store(c) // the bucket is full: replace the oldest filled
	*h = (*h + 1) % siteWays
	return c
}

// watched reports whether the next span of site k is watched: the first
// firstWatched of the site, then one in n.
func (s *siteCounts) watched(k siteKey, n uint64) bool {
	i := s.counter(k).n.Add(1) - 1
	return i < firstWatched || (i-firstWatched)%n == n-1
}
