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
// without a lock, keyed first by the release's code (a uintptr, cheap to
// hash), then by kind and name among the few sites that share a release.
type siteCounts struct {
	m     atomic.Pointer[map[uintptr][]siteCount]
	mu    sync.Mutex
	n     int           // sites counted apart; guarded by mu
	other atomic.Uint64 // the sites beyond maxSites
}

type siteCount struct {
	name string
	kind kind
	c    *atomic.Uint64
}

// counter returns k's counter, adding it if needed.
func (s *siteCounts) counter(k siteKey) *atomic.Uint64 {
	if m := s.m.Load(); m != nil {
		for _, e := range (*m)[k.code] {
			if e.kind == k.kind && e.name == k.name {
				return e.c
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur map[uintptr][]siteCount
	if m := s.m.Load(); m != nil {
		cur = *m
	}
	for _, e := range cur[k.code] {
		if e.kind == k.kind && e.name == k.name {
			return e.c
		}
	}
	if s.n >= maxSites {
		return &s.other
	}
	next := make(map[uintptr][]siteCount, len(cur)+1)
	for code, es := range cur {
		next[code] = es
	}
	c := new(atomic.Uint64)
	next[k.code] = append(append([]siteCount(nil), cur[k.code]...), siteCount{k.name, k.kind, c})
	s.n++
	s.m.Store(&next)
	return c
}

// watched reports whether a lifetime acquired at the site (name, k, fn)
// gets leak detection: always without sampling, else the first
// firstWatched of its site and one in n after. fn is the release or
// cleanup function (a func value: pointer-shaped, so passing it as an any
// allocates nothing), nil for a Scope.
func (t *Tracker) watched(name string, k kind, fn any) bool {
	n := uint64(t.cfg.leakSampling)
	if n <= 1 {
		return true
	}
	var code uintptr
	if fn != nil {
		code = reflect.ValueOf(fn).Pointer()
	}
	i := t.sites.counter(siteKey{name, k, code}).Add(1) - 1
	return i < firstWatched || (i-firstWatched)%n == n-1
}
