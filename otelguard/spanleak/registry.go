package spanleak

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// registry holds the watched spans that have not ended, keyed by the
// span's trace and span IDs (the SDK gives OnEnd a snapshot, not the span
// OnStart saw, so the IDs are what both see; and they are values: the
// registry keeps no span reachable). It is striped: OnStart and OnEnd take
// the lock of one stripe, picked by the span ID, so spans started on
// different goroutines rarely contend.
//
// The SDK's default ID generator draws IDs at random, so two open spans
// never share them in practice; a custom IDGenerator could repeat them.
// add then refuses the second span (it is not watched) rather than risk
// telling one span's End for another's. A runtime cleanup removes an entry
// only if it is its own (sequence numbers).
type registry struct {
	stripes [stripes]stripe
}

const stripes = 64

type spanKey struct {
	trace trace.TraceID
	span  trace.SpanID
}

func keyOf(sc trace.SpanContext) spanKey { return spanKey{sc.TraceID(), sc.SpanID()} }

type stripe struct {
	mu  sync.Mutex
	n   atomic.Int32 // len(m), read without the lock by remove's fast path
	seq uint64       // numbers the stripe's watches; guarded by mu
	m   map[spanKey]*watch
	_   [32]byte // keep stripes on cache lines of their own
}

func (r *registry) stripe(k spanKey) *stripe {
	return &r.stripes[k.span[7]%stripes]
}

// add registers w and gives it its sequence number, unless a span with
// the same IDs is registered.
func (r *registry) add(w *watch) bool {
	s := r.stripe(w.key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[spanKey]*watch)
	} else if _, dup := s.m[w.key]; dup {
		return false
	}
	s.seq++
	w.seq = s.seq
	s.m[w.key] = w
	s.n.Store(int32(len(s.m)))
	return true
}

// setCleanup sets w's cleanup handle, under the lock OnEnd reads it with.
func (r *registry) setCleanup(w *watch, c runtime.Cleanup) {
	s := r.stripe(w.key)
	s.mu.Lock()
	w.cleanup = c
	s.mu.Unlock()
}

// remove removes and returns the entry of k, if its sequence number is
// seq or seq is 0.
//
// A span not watched (sampling) ends with one atomic load when its stripe
// has no watched span open: a watched span's add happened before its End.
func (r *registry) remove(k spanKey, seq uint64) *watch {
	s := r.stripe(k)
	if s.n.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.m[k]
	if w == nil || (seq != 0 && w.seq != seq) {
		return nil
	}
	delete(s.m, k)
	s.n.Store(int32(len(s.m)))
	return w
}

// open returns how many watched spans have not ended.
func (r *registry) open() int {
	n := 0
	for i := range r.stripes {
		s := &r.stripes[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// drain removes and returns every entry, in start order (by start time;
// within a stripe, by sequence).
func (r *registry) drain() []*watch {
	var all []*watch
	for i := range r.stripes {
		s := &r.stripes[i]
		s.mu.Lock()
		for _, w := range s.m {
			all = append(all, w)
		}
		s.m = nil
		s.n.Store(0)
		s.mu.Unlock()
	}
	slices.SortFunc(all, func(a, b *watch) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return all
}
