package otelguard

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// A Tracker lives from New until Shutdown, as a TracerProvider does: the
// process-wide table below holds it, whether or not the program still
// references it, so that every leak of its lifetimes is found and every
// ReleaseOnLeak release runs. A leak cleanup's key names its Tracker by
// number (a key may hold no pointer: see leakKey), and the table answers
// the number.
//
// After Shutdown the table keeps the Tracker while it still has
// registered lifetimes (the ones open at Shutdown keep their leak
// detection; ReleaseOnLeak lifetimes acquired after it are registered
// too), and lets go of it when the last of them ends. A Tracker never
// shut down stays for the life of the process: shut down what you create
// (otelguardtest does it for tests).
var trackers struct {
	mu   sync.Mutex
	next uint32
	byID map[uint32]*Tracker
}

// enroll puts t in the table, once: New does it, and the first acquire
// of a zero Tracker.
func (t *Tracker) enroll() {
	if t.id.Load() != 0 {
		return
	}
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	if t.id.Load() != 0 {
		return
	}
	t.enrollLocked()
}

// reenroll puts a shut-down Tracker back in the table, under its number,
// after a lifetime it must watch was registered: retire may have taken it
// out just before. Both run under the table's lock, and retire looks at the
// registry, so one of the two sees the other.
func (t *Tracker) reenroll() {
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	if t.id.Load() == 0 {
		t.enrollLocked()
		return
	}
	trackers.byID[t.id.Load()] = t
}

func (t *Tracker) enrollLocked() {
	if trackers.byID == nil {
		trackers.byID = make(map[uint32]*Tracker)
	}
	for {
		trackers.next++
		if _, used := trackers.byID[trackers.next]; !used && trackers.next != 0 {
			break // after 2^32 Trackers the numbers wrap around
		}
	}
	trackers.byID[trackers.next] = t
	t.id.Store(trackers.next)
}

// retire takes t out of the table once it is shut down and nothing of
// it is registered: Shutdown, and the end of the last lifetime after it.
func (t *Tracker) retire() {
	if !t.shut.Load() || t.reg.count() > 0 {
		return
	}
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	if t.reg.count() == 0 && trackers.byID[t.id.Load()] == t {
		delete(trackers.byID, t.id.Load())
	}
}

func trackerByID(id uint32) *Tracker {
	trackers.mu.Lock()
	defer trackers.mu.Unlock()
	return trackers.byID[id]
}

// defaultLeakCheckInterval is the leak check interval of a Tracker made
// without WithLeakCheckInterval: see there.
const defaultLeakCheckInterval = time.Minute

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
		// The timer holds the Tracker weakly: a stopped timer stays in
		// the runtime's timer heap for a while, and a retired Tracker
		// must be collectable meanwhile. (Until Shutdown the table holds
		// it anyway.)
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
	if t.reg.count() == 0 {
		s.armed.Store(false)
		if t.reg.count() == 0 || !s.armed.CompareAndSwap(false, true) {
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
