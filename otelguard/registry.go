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

// inflight counts work running on goroutines of the library's own (async
// releases, stragglers that outlived their deadline, leak reports) so that
// Shutdown, CloseAll and Flush can wait for it. The count is an atomic; the
// mutex is taken only when the count falls to a level somebody waits for.
//
// A wait names a threshold: the number of slots its own goroutine chain
// holds (a release that calls Flush waits for everything but itself).
//
// Work started from the runtime's cleanup goroutine (leak reports and
// ReleaseOnLeak releases) runs outside every testing/synctest bubble; it
// is also counted in outside, so that a wait inside a bubble knows to wait
// for real work, not fake time (see event).
type inflight struct {
	n       atomic.Int64
	outside atomic.Int64
	mark    atomic.Int64 // done wakes waiters once n is at or below mark
	mu      sync.Mutex
	wake    *event // fired to wake waiters; nil when nobody waits
}

func (f *inflight) add() { f.n.Add(1) }

func (f *inflight) done() {
	if f.n.Add(-1) <= f.mark.Load() {
		f.fire()
	}
}

// addOutside and doneOutside count work that runs outside every bubble.
// Its start and end wake waiters too, so that a wait in a bubble can
// choose again how to wait.
func (f *inflight) addOutside() {
	f.outside.Add(1)
	f.n.Add(1)
}

func (f *inflight) doneOutside() {
	f.outside.Add(-1)
	f.n.Add(-1)
	f.fire()
}

func (f *inflight) fire() {
	f.mu.Lock()
	w := f.wake
	f.wake = nil
	f.mu.Unlock()
	if w != nil {
		w.fire()
	}
}

// wait blocks until the count is at most threshold or done is closed. It
// reports whether the count got there.
func (f *inflight) wait(done <-chan struct{}, threshold int64) bool {
	for {
		f.mu.Lock()
		if threshold > f.mark.Load() {
			f.mark.Store(threshold)
		}
		if f.n.Load() <= threshold {
			f.mu.Unlock()
			return true
		}
		if f.wake == nil {
			f.wake = &event{}
		}
		w := f.wake
		f.mu.Unlock()
		outside := f.outside.Load() > 0
		recheck := func() bool { return f.n.Load() <= threshold || (f.outside.Load() > 0) != outside }
		if !w.wait(done, outside, recheck) {
			return f.n.Load() <= threshold
		}
	}
}
