// Package sitecount counts acquisitions per call site for leak sampling,
// in a bounded table that keeps sampling's promise — "the first
// FirstWatched of every site are watched, then one in n" — at any number
// of sites. The core's WithLeakSampling and spanleak's WithSampling share
// it; each names its sites with a key of its own.
//
// Size sites are counted apart at once (Buckets buckets of Ways slots). A
// new site past that takes the slot of one counted before, whose count
// starts again at zero if it comes back: a site is never watched less than
// promised, only, past the bound, more. The table is read without a lock:
// a slot, once filled, is replaced whole (a new counter), never changed,
// so an increment lands on the counter of the site that looked it up.
package sitecount

import (
	"sync"
	"sync/atomic"
)

const (
	Ways    = 8
	Buckets = 512
	Size    = Buckets * Ways // 4096 sites apart at once

	// FirstWatched is how many acquisitions of each site are watched
	// before sampling starts: a site that leaks every time is found at
	// once.
	FirstWatched = 16
)

// A Key names a call site; Hash spreads keys over the buckets (equal keys
// are told apart by ==, so it need not be perfect).
type Key interface {
	comparable
	Hash() uint64
}

// A Counter counts one site's acquisitions.
type Counter[K Key] struct {
	key K
	n   atomic.Uint64
}

// N is how many acquisitions the counter has seen.
func (c *Counter[K]) N() uint64 { return c.n.Load() }

// A Table is the bounded table of counters. The zero Table is ready to
// use and allocates its slots on first use.
type Table[K Key] struct {
	tab  atomic.Pointer[[Size]atomic.Pointer[Counter[K]]]
	mu   sync.Mutex     // fills and replaces slots
	hand [Buckets]uint8 // the next way to replace in each bucket; guarded by mu
}

// Counter returns k's counter, making one if k has none.
func (s *Table[K]) Counter(k K) *Counter[K] {
	tab := s.tab.Load()
	b := int(k.Hash()%Buckets) * Ways
	if tab != nil {
		for i := range Ways {
			if c := tab[b+i].Load(); c != nil && c.key == k {
				return c
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tab = s.tab.Load(); tab == nil {
		tab = new([Size]atomic.Pointer[Counter[K]])
		s.tab.Store(tab)
	}
	for i := range Ways {
		c := tab[b+i].Load()
		if c == nil {
			c = &Counter[K]{key: k}
			tab[b+i].Store(c)
			return c
		}
		if c.key == k {
			return c
		}
	}
	c := &Counter[K]{key: k}
	h := &s.hand[b/Ways]
	tab[b+int(*h)].Store(c) // the bucket is full: replace the oldest filled
	*h = (*h + 1) % Ways
	return c
}

// Watched counts an acquisition at site k and reports whether it is
// watched: the first FirstWatched of the site, then one in n (n > 1).
func (s *Table[K]) Watched(k K, n uint64) bool {
	i := s.Counter(k).n.Add(1) - 1
	return i < FirstWatched || (i-FirstWatched)%n == n-1
}

// Len is how many counters the table holds now: at most Size.
func (s *Table[K]) Len() int {
	tab := s.tab.Load()
	if tab == nil {
		return 0
	}
	n := 0
	for i := range tab {
		if tab[i].Load() != nil {
			n++
		}
	}
	return n
}
