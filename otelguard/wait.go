package otelguard

// The wait machinery, in one place: an event (a one-shot signal that may
// cross a testing/synctest bubble's edge), the Tracker's count of work on
// its own goroutines (which Flush, Shutdown and CloseAll wait for), and the
// wait of a Close that found a release in flight.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// An event is a one-shot signal: fire may be called from any goroutine,
// any number of times, and wait from any goroutine, inside a
// testing/synctest bubble or not, without ever touching a bubble's
// channel from outside it.
//
// Outside every bubble a waiter waits on a channel made outside every
// bubble, which any goroutine may close. Inside a bubble there are two
// ways to wait, and the caller says which fits:
//
//   - for work inside the bubble (a release running on one of its
//     goroutines), durably: the waiter blocks on a channel of its bubble,
//     which fire closes when it is called from the same bubble, so the
//     bubble's fake clock advances as it should while the work sleeps in
//     it. A fire from elsewhere cannot close that channel; the waiter also
//     looks again on a bubble timer (1ms, doubling to 1s of fake time) and
//     finds the event fired then.
//   - for work outside the bubble (a leak report, which runs where the
//     runtime runs cleanups), not durably: a goroutine of the bubble
//     waits on a mutex that fire unlocks (a sync.Mutex may be unlocked
//     from anywhere) and closes a channel of the bubble. The fake clock
//     then stands still while real work the test waits for goes on.
type event struct {
	mu     sync.Mutex
	fired  bool
	ch     chan struct{} // made outside every bubble; closed by fire
	gate   *sync.Mutex   // locked until fire, for waiters on outside work
	inside []bubbleChan  // durable waiters in bubbles
}

// bubbleChan is a durable waiter's channel and the bubble it belongs to.
type bubbleChan struct {
	bubble uint64
	ch     chan struct{}
}

// fire wakes every waiter, now and later. Calls after the first do
// nothing.
func (e *event) fire() {
	e.mu.Lock()
	if e.fired {
		e.mu.Unlock()
		return
	}
	e.fired = true
	ch, gate, inside := e.ch, e.gate, e.inside
	e.inside = nil
	e.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	if gate != nil {
		gate.Unlock()
	}
	if len(inside) > 0 {
		if me, ok := bubbleID(); ok && me != 0 {
			for _, w := range inside {
				if w.bubble == me {
					close(w.ch)
				}
			}
		}
	}
}

// isFired reports whether fire has been called.
func (e *event) isFired() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fired
}

// wait blocks until the event fires or done is closed, and reports
// whether done was not the reason: the caller looks at what it waits for
// again. outside says the work waited for runs outside every bubble (see
// event). recheck, if not nil, is called each time a durable waiter in a
// bubble looks again; if it returns true, wait returns true so that the
// caller can choose again how to wait.
func (e *event) wait(done <-chan struct{}, outside bool, recheck func() bool) bool {
	e.mu.Lock()
	if e.fired {
		e.mu.Unlock()
		return true
	}
	if !inBubble() {
		if e.ch == nil {
			e.ch = make(chan struct{})
		}
		ch := e.ch
		e.mu.Unlock()
		return receive(ch, done)
	}
	if outside {
		if e.gate == nil {
			e.gate = new(sync.Mutex)
			e.gate.Lock()
		}
		gate := e.gate
		e.mu.Unlock()
		ch := make(chan struct{}) // of this bubble, closed by a goroutine of it
		go func() {
			gate.Lock() // the wait: fire unlocks the gate
			close(ch)
			gate.Unlock() // for the next waiter
		}()
		return receive(ch, done)
	}
	var ch chan struct{} // nil (never ready) if the bubble cannot be told
	if id, ok := bubbleID(); ok {
		ch = make(chan struct{})
		e.inside = append(e.inside, bubbleChan{id, ch})
	}
	e.mu.Unlock()
	for tick := time.Millisecond; ; tick = min(2*tick, time.Second) {
		tm := time.NewTimer(tick)
		select {
		case <-ch:
			tm.Stop()
			return true
		case <-done:
			tm.Stop()
			e.forget(ch)
			return false
		case <-tm.C:
		}
		if e.isFired() || (recheck != nil && recheck()) {
			e.forget(ch)
			return true
		}
	}
}

// forget drops a durable waiter's channel that will not be waited on.
func (e *event) forget(ch chan struct{}) {
	if ch == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, w := range e.inside {
		if w.ch == ch {
			e.inside = append(e.inside[:i], e.inside[i+1:]...)
			return
		}
	}
}

func receive(ch, done <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
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

// finished reports whether the release has returned (or will never run).
func (l *lifetime) finished() bool { return l.waiters.Load() == finishedSentinel }

// waitFinished is what a Close that lost the claim does: it waits for an
// in-flight release, bounded by ctx, and returns ErrClosed.
func (l *lifetime) waitFinished(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if l.finished() || l.reentrant(ctx) {
		// Finished, or called from inside the release in flight, which
		// would be waiting for itself.
		return ErrClosed
	}
	for {
		ev := l.waiters.Load()
		if ev == finishedSentinel {
			return ErrClosed
		}
		if ev == nil {
			ev = &event{}
			if !l.waiters.CompareAndSwap(nil, ev) {
				continue
			}
		}
		if !ev.wait(ctx.Done(), false, nil) {
			break
		}
	}
	return fmt.Errorf("%w; gave up waiting for the release in flight: %w", ErrClosed, ctx.Err())
}
