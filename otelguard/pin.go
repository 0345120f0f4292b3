package otelguard

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Trackers by ID. A leak cleanup's key names its Tracker by number (it may
// hold no pointer); the table answers the number.
//
// While a Tracker has open lifetimes under leak detection, the table
// holds it strongly (it is pinned): a program that keeps no reference to
// its Tracker — a test that keeps only its span recorder, a service whose
// constructor keeps only the handles — still gets every leak reported and
// counted. Otherwise the table holds it weakly, and a Tracker nobody
// references is collected.
//
// A Tracker is pinned by the first acquire that finds it unpinned (one
// atomic load on every acquire, a lock on the rare one that pins), and
// unpinned by Shutdown, or after a garbage collection finds it with
// nothing open: a cleanup on a throwaway object runs after each
// collection while any Tracker is pinned.
var trackers struct {
	mu     sync.Mutex
	next   uint32
	byID   map[uint32]*trackerEntry
	pinned map[*Tracker]struct{}
	hooked bool // a GC hook is waiting for the next collection
}

type trackerEntry struct {
	weak   weak.Pointer[Tracker]
	strong *Tracker // set while pinned
}

// trackerID returns t's ID, giving it one the first time.
func (t *Tracker) trackerID() uint32 {
	if id := t.id.Load(); id != 0 {
		return id
	}
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	return t.idLocked()
}

func (t *Tracker) idLocked() uint32 {
	if id := t.id.Load(); id != 0 {
		return id
	}
	if trackers.byID == nil {
		trackers.byID = make(map[uint32]*trackerEntry)
		trackers.pinned = make(map[*Tracker]struct{})
	}
	if n := len(trackers.byID); n >= 1024 && n&(n-1) == 0 {
		for id, e := range trackers.byID { // forget collected Trackers
			if e.strong == nil && e.weak.Value() == nil {
				delete(trackers.byID, id)
			}
		}
	}
	for {
		trackers.next++
		if _, used := trackers.byID[trackers.next]; !used && trackers.next != 0 {
			break // after 2^32 Trackers the numbers wrap around
		}
	}
	id := trackers.next
	trackers.byID[id] = &trackerEntry{weak: weak.Make(t)}
	t.id.Store(id)
	return id
}

func trackerByID(id uint32) *Tracker {
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	e := trackers.byID[id]
	if e == nil {
		return nil
	}
	if e.strong != nil {
		return e.strong
	}
	return e.weak.Value()
}

// pin makes sure the table holds t strongly. It is called after a lifetime
// with leak detection is registered: a collection that unpins t either
// sees that lifetime registered, or unpinned t before this load.
func (t *Tracker) pin() {
	if t.pinned.Load() || t.shut.Load() {
		return
	}
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	if t.pinned.Load() || t.shut.Load() {
		return
	}
	trackers.byID[t.idLocked()].strong = t
	trackers.pinned[t] = struct{}{}
	t.pinned.Store(true)
	hookGC()
}

// unpin lets the table hold t weakly again: Shutdown.
func (t *Tracker) unpin() {
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	t.unpinLocked()
}

func (t *Tracker) unpinLocked() {
	if !t.pinned.Load() {
		return
	}
	t.pinned.Store(false)
	delete(trackers.pinned, t)
	if e := trackers.byID[t.id.Load()]; e != nil {
		e.strong = nil
	}
}

// gcSentinel is allocated only to be collected: its cleanup runs after the
// next garbage collection. It holds a pointer so that it is not placed in
// a tiny-object block with other values, which could keep it alive.
type gcSentinel struct {
	_ *byte
	_ [2]uintptr
}

// hookGC arranges for afterGC to run after the next collection.
// trackers.mu must be held.
func hookGC() {
	if trackers.hooked {
		return
	}
	trackers.hooked = true
	runtime.AddCleanup(&gcSentinel{}, afterGC, 0)
}

// afterGC runs on the runtime's cleanup goroutine after a collection: it
// unpins every Tracker with nothing open, and hooks the next collection
// while any is still pinned.
func afterGC(int) {
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	trackers.hooked = false
	pinned := make([]*Tracker, 0, len(trackers.pinned))
	for t := range trackers.pinned {
		pinned = append(pinned, t)
	}
	for _, t := range pinned {
		// Unpin first, then look: an acquire registers first, then looks
		// at pinned (see pin), so one of the two sees the other.
		t.unpinLocked()
		if t.reg.count() > 0 {
			trackers.byID[t.id.Load()].strong = t
			trackers.pinned[t] = struct{}{}
			t.pinned.Store(true)
		}
	}
	if len(trackers.pinned) > 0 {
		hookGC()
	}
}

// DefaultLeakCheckInterval is the leak check interval of a Tracker made
// without WithLeakCheckInterval: see there.
const DefaultLeakCheckInterval = time.Minute

// leakScan triggers a garbage collection when a Tracker has open lifetimes
// under leak detection and none has run for an interval: the runtime runs
// no periodic collection before a first one, so an idle process would
// never find a leak (nor, with ReleaseOnLeak, give back what it held).
type leakScan struct {
	armed  atomic.Bool
	mu     sync.Mutex // serializes check
	cycles uint64     // GC cycles at the last check; guarded by mu
	timer  *time.Timer
}

// arm starts the interval timer unless it runs. It is called after a
// lifetime with leak detection, acquired outside any bubble, is
// registered; check disarms only after looking at the registry, so one of
// the two sees the other.
func (s *leakScan) arm(t *Tracker) {
	d := t.leakCheckInterval()
	if d <= 0 || s.armed.Load() || !s.armed.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cycles = gcCycles()
	if s.timer == nil {
		// The timer holds the Tracker weakly: a Tracker nobody references
		// and with nothing open is collected, timer or not.
		w := weak.Make(t)
		s.timer = time.AfterFunc(d, func() {
			if t := w.Value(); t != nil {
				t.scan.check(t)
			}
		})
	} else {
		s.timer.Reset(d)
	}
}

// check runs on the timer's goroutine, once per interval while armed.
func (s *leakScan) check(t *Tracker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.shut.Load() || t.reg.count() == 0 {
		s.armed.Store(false)
		if t.shut.Load() || t.reg.count() == 0 || !s.armed.CompareAndSwap(false, true) {
			return
		}
	}
	if c := gcCycles(); c != s.cycles {
		s.cycles = c // the runtime collected: nothing to do
	} else {
		runtime.GC()
		s.cycles = gcCycles()
	}
	s.timer.Reset(t.leakCheckInterval())
}

var gcCycleSample = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
var gcCycleMu sync.Mutex

// gcCycles is how many garbage collections have completed.
func gcCycles() uint64 {
	gcCycleMu.Lock()
	defer gcCycleMu.Unlock()
	metrics.Read(gcCycleSample)
	return gcCycleSample[0].Value.Uint64()
}
