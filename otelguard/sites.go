package otelguard

import (
	"hash/maphash"
	"reflect"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/internal/sitecount"
)

// Per-call-site tables. Two kinds, each bounded, each keeping its promise
// past its bound:
//
//   - leak sampling's counters (WithLeakSampling): internal/sitecount's
//     table, shared with spanleak — "the first 16 acquisitions of every
//     call site are watched" at any number of sites (past 4096 sites apart
//     at once, a site may be watched more, never less);
//   - siteLimits, the per-site rate limits of the leak log and of findings
//     (WithLeakLogInterval): "one record per call site per interval, the
//     rest counted into a summary". 4096 sites are limited apart at once;
//     a site past that takes the slot of one quiet for an interval, or,
//     when none is, shares a slot: its records are folded into that
//     slot's summary (counted in otelguard.repeats, the summary naming
//     the latest). Nothing is dropped and the output stays bounded.

const (
	siteWays    = sitecount.Ways
	siteBuckets = sitecount.Buckets // siteBuckets × siteWays = 4096 sites apart at once
)

var siteSeed = maphash.MakeSeed()

// siteKey tells a call site for sampling: its lifetimes' kind and name,
// and the code of their release function. A function literal is code of
// its own at each place it is written, so a cleanup or release written at
// the call site makes the site one of its own; a named function or
// method, and Track's Close, are shared by every site that names them,
// which then share a counter if they also share the name. Telling call
// sites apart exactly would take a walk of the stack on every acquire
// (about 150ns here), which is what sampling is there to save.
type siteKey struct {
	name string
	kind kind
	code uintptr
}

// Hash spreads site keys over a table's buckets.
func (k siteKey) Hash() uint64 {
	return maphash.String(siteSeed, k.name) ^ (uint64(k.code)*0x9e3779b97f4a7c15 + uint64(k.kind))
}

// watched reports whether a lifetime acquired at the site (name, k, fn)
// gets leak detection: always without sampling, else the first 16 of its
// site and one in n after. fn is the release or cleanup function (a func
// value: pointer-shaped, so passing it as an any allocates nothing), nil
// for a Scope.
func (t *Tracker) watched(name string, k kind, fn any) bool {
	n := uint64(t.cfg.leakSampling)
	if n <= 1 {
		return true
	}
	var code uintptr
	if fn != nil {
		code = reflect.ValueOf(fn).Pointer()
	}
	return t.sites.Watched(siteKey{name, k, code}, n)
}

// siteLimits rate-limits records per call site: see the top of this file.
// It is used off the hot path (a leak, a finding), under one mutex.
type siteLimits struct {
	mu   sync.Mutex
	tab  *[siteBuckets * siteWays]siteLimit // made on first use
	hand [siteBuckets]uint8                 // the next way to share, per bucket
}

// siteLimit is one slot: a site's window and what was folded into it.
type siteLimit struct {
	key    uint64 // 0: free
	since  time.Time
	folded int
	l      *lifetime // the latest folded, for the summary's fields
	what   string
	timer  *time.Timer
	find   *bridge.Finding // findings: the latest folded, for Shutdown's flush
	st     *stack          // its interned stack, when it has one
}

// slot returns the slot for key, under s.mu: key's own, a free one, one
// quiet for an interval (taken over), or, when the bucket has none of
// those, one shared by hash.
func (s *siteLimits) slot(key uint64, now time.Time, interval time.Duration) *siteLimit {
	if key == 0 {
		key = 1
	}
	if s.tab == nil {
		s.tab = new([siteBuckets * siteWays]siteLimit)
	}
	b := int(key%siteBuckets) * siteWays
	var free, quiet *siteLimit
	for i := range siteWays {
		sl := &s.tab[b+i]
		switch {
		case sl.key == key:
			return sl
		case sl.key == 0 && free == nil:
			free = sl
		case sl.key != 0 && quiet == nil && sl.folded == 0 && sl.timer == nil && now.Sub(sl.since) >= interval:
			quiet = sl
		}
	}
	if free == nil {
		free = quiet
	}
	if free != nil {
		*free = siteLimit{key: key}
		return free
	}
	h := &s.hand[b/siteWays]
	sl := &s.tab[b+int(*h)]
	*h = (*h + 1) % siteWays
	return sl // shared: key folds into another site's window
}

// siteHash is the rate-limit key of a lifetime's call site: its acquire
// stack, or without one its name and kind.
func (l *lifetime) siteHash() uint64 {
	if l.stack != nil {
		return l.stack.hash
	}
	return siteKey{name: l.name, kind: l.kind}.Hash()
}
