package otelguard

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// Leak sampling (WithLeakSampling): leak detection — the runtime cleanup
// and the acquire stack, most of what a lifetime costs when nobody traces
// it — for the first acquisitions of every call site and then one in n.

// firstWatched is how many acquisitions of each call site are watched
// before sampling starts: a site that leaks every time is found at once.
const firstWatched = 16

// maxSites bounds the call sites a Tracker counts apart; the ones beyond
// share one counter.
const maxSites = 4096

// siteKey tells a call site: its lifetimes' kind and name, and the code of
// their release function. A function literal is code of its own at each
// place it is written, so a cleanup or release written at the call site
// makes the site one of its own; a named function or method, and Track's
// Close, are shared by every site that names them, which then share a
// counter if they also share the name. Telling call sites apart exactly
// would take a walk of the stack on every acquire (about 150ns here),
// which is what sampling is there to save.
type siteKey struct {
	name string
	kind kind
	code uintptr
}

// siteCounts counts acquisitions per call site: a copy-on-write map read
// without a lock.
type siteCounts struct {
	m     atomic.Pointer[map[siteKey]*atomic.Uint64]
	mu    sync.Mutex
	other atomic.Uint64 // the sites beyond maxSites
}

// counter returns k's counter, adding it if needed.
func (s *siteCounts) counter(k siteKey) *atomic.Uint64 {
	if m := s.m.Load(); m != nil {
		if c := (*m)[k]; c != nil {
			return c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur map[siteKey]*atomic.Uint64
	if m := s.m.Load(); m != nil {
		cur = *m
	}
	if c := cur[k]; c != nil {
		return c
	}
	if len(cur) >= maxSites {
		return &s.other
	}
	next := make(map[siteKey]*atomic.Uint64, len(cur)+1)
	for key, c := range cur {
		next[key] = c
	}
	c := new(atomic.Uint64)
	next[k] = c
	s.m.Store(&next)
	return c
}

// watched reports whether a lifetime acquired at the site (name, k, rel)
// gets leak detection: always without sampling, else the first
// firstWatched of its site and one in n after.
func (t *Tracker) watched(name string, k kind, rel releaser) bool {
	n := uint64(t.cfg.leakSampling)
	if n <= 1 {
		return true
	}
	i := t.sites.counter(siteKey{name, k, codeOf(rel)}).Add(1) - 1
	return i < firstWatched || (i-firstWatched)%n == n-1
}

// codeOf is the code pointer of a lifetime's release function.
func codeOf(rel releaser) uintptr {
	switch r := rel.(type) {
	case guardFunc:
		return reflect.ValueOf(r).Pointer()
	case interface{ code() uintptr }:
		return r.code()
	}
	return 0
}

func (s *resState[T]) code() uintptr { return reflect.ValueOf(s.fn).Pointer() }
