package otelguard

import (
	"slices"
	"sync"
	"sync/atomic"
)

// The registry holds every lifetime that has not finished, so that Live,
// Shutdown and CloseAll can find them. It is striped: a lifetime goes to
// one of registryShards lists chosen by its sequence number, each with its
// own mutex, so acquires and releases on different goroutines rarely meet
// and no lock is global. Lists are intrusive (the links live in the
// lifetime), so registering allocates nothing.
const registryShards = 32

type registry struct {
	seq    atomic.Uint64
	shards [registryShards]registryShard
}

type registryShard struct {
	mu         sync.Mutex
	head, tail *lifetime
	n          int      // registered lifetimes; guarded by mu
	_          [32]byte // keep neighbouring shards off one cache line
}

// add registers l and gives it its sequence number (acquire order).
func (r *registry) add(l *lifetime) {
	l.seq = r.seq.Add(1)
	sh := &r.shards[l.seq%registryShards]
	sh.mu.Lock()
	l.prev = sh.tail
	l.next = nil
	if sh.tail != nil {
		sh.tail.next = l
	} else {
		sh.head = l
	}
	sh.tail = l
	sh.n++
	l.registered = true
	sh.mu.Unlock()
}

// remove unregisters l. It is safe to call more than once.
func (r *registry) remove(l *lifetime) {
	sh := &r.shards[l.seq%registryShards]
	sh.mu.Lock()
	if l.registered {
		if l.prev != nil {
			l.prev.next = l.next
		} else {
			sh.head = l.next
		}
		if l.next != nil {
			l.next.prev = l.prev
		} else {
			sh.tail = l.prev
		}
		l.prev, l.next = nil, nil
		l.registered = false
		sh.n--
	}
	sh.mu.Unlock()
}

// all returns the registered lifetimes in no particular order. Every
// lifetime registered before the call and not removed before it is
// included.
func (r *registry) all() []*lifetime {
	out := make([]*lifetime, 0, r.count())
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for l := sh.head; l != nil; l = l.next {
			out = append(out, l)
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
		for l := sh.head; l != nil; l = l.next {
			es = append(es, entry{l.seq, l})
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
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
type inflight struct {
	n    atomic.Int64
	mark atomic.Int64 // done wakes waiters once n is at or below mark
	mu   sync.Mutex
	wake chan struct{} // closed to wake waiters; nil when nobody waits
}

func (f *inflight) add() { f.n.Add(1) }

func (f *inflight) done() {
	if f.n.Add(-1) <= f.mark.Load() {
		f.mu.Lock()
		if f.wake != nil {
			close(f.wake)
			f.wake = nil
		}
		f.mu.Unlock()
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
			f.wake = make(chan struct{})
		}
		w := f.wake
		f.mu.Unlock()
		select {
		case <-w:
		case <-done:
			return f.n.Load() <= threshold
		}
	}
}
