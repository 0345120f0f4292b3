package otelguard

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// The registry holds every lifetime that has not finished, so that Live,
// Shutdown and CloseAll can find them, and so that a leak cleanup can find
// its lifetime from a key of plain numbers (see leakKey). It is striped: a
// lifetime goes to one of registryShards slot tables chosen by its sequence
// number, each with its own mutex, so acquires and releases on different
// goroutines rarely meet and no lock is global. A lifetime keeps its slot
// until it is removed; freed slots are reused, so a steady load registers
// without allocating.
const registryShards = 32

type registry struct {
	seq    atomic.Uint64
	shards [registryShards]registryShard
}

type registryShard struct {
	mu    sync.Mutex
	slots []*lifetime // nil where free; guarded by mu
	free  []uint32    // free slots; guarded by mu
	n     int         // registered lifetimes; guarded by mu
	_     [16]byte    // keep neighbouring shards off one cache line
}

// add registers l and gives it its sequence number (acquire order) and
// its slot.
func (r *registry) add(l *lifetime) {
	l.seq = r.seq.Add(1)
	sh := &r.shards[l.seq%registryShards]
	sh.mu.Lock()
	var i uint32
	if k := len(sh.free); k > 0 {
		i = sh.free[k-1]
		sh.free = sh.free[:k-1]
	} else {
		i = uint32(len(sh.slots))
		sh.slots = append(sh.slots, nil)
	}
	sh.slots[i] = l
	l.slot = i
	l.registered = true
	sh.n++
	sh.mu.Unlock()
}

// remove unregisters l. It is safe to call more than once.
func (r *registry) remove(l *lifetime) {
	sh := &r.shards[l.seq%registryShards]
	sh.mu.Lock()
	if l.registered {
		sh.slots[l.slot] = nil
		l.registered = false
		sh.n--
		if sh.n == 0 && len(sh.slots) > 1024 {
			sh.slots, sh.free = nil, nil // give back a burst's memory
		} else {
			sh.free = append(sh.free, l.slot)
		}
	}
	sh.mu.Unlock()
}

// lookup returns the registered lifetime with sequence number seq in slot
// slot, or nil if it is no longer registered.
func (r *registry) lookup(seq uint64, slot uint32) *lifetime {
	sh := &r.shards[seq%registryShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if int(slot) < len(sh.slots) {
		if l := sh.slots[slot]; l != nil && l.seq == seq {
			return l
		}
	}
	return nil
}

// all returns the registered lifetimes in no particular order. Every
// lifetime registered before the call and not removed before it is
// included.
func (r *registry) all() []*lifetime {
	out := make([]*lifetime, 0, r.count())
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, l := range sh.slots {
			if l != nil {
				out = append(out, l)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// count is about how many lifetimes are registered: a size hint.
func (r *registry) count() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += sh.n
		sh.mu.Unlock()
	}
	return n
}

// snapshot is all in acquire order (oldest first). It sorts pairs of
// (sequence, lifetime) so that comparisons do not chase pointers.
func (r *registry) snapshot() []*lifetime {
	type entry struct {
		seq uint64
		l   *lifetime
	}
	es := make([]entry, 0, r.count())
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, l := range sh.slots {
			if l != nil {
				es = append(es, entry{l.seq, l})
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*lifetime, len(es))
	for i, e := range es {
		out[i] = e.l
	}
	return out
}
