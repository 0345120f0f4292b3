package spanleak

import "hash/maphash"

// Sampling's per-site counters are internal/sitecount's table, the one the
// core's leak sampling uses: 4096 sites counted apart at once, a site
// never watched less than promised past that, only more. A site is the
// span's instrumentation scope and name.

var siteSeed = maphash.MakeSeed()

type siteKey struct {
	scope, name string
}

// Hash spreads site keys over the table's buckets.
func (k siteKey) Hash() uint64 {
	return maphash.String(siteSeed, k.name) ^ (maphash.String(siteSeed, k.scope) * 0x9e3779b97f4a7c15)
}
