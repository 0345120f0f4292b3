package spanleak

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
)

// endGrace is how long a span found collected waits before it is
// reported, for an End in progress to say so. The SDK's End references
// the span only until it has taken the snapshot it gives OnEnd: a span
// ended as the program's last use of it can be collected, and its runtime
// cleanup run, while the processors registered before this one still
// handle its End. When OnEnd then arrives for a span already found, it
// cancels the report. Registered first, this processor's OnEnd follows
// the snapshot at once; a processor before it that takes longer than
// endGrace in OnEnd (a synchronous export to a slow exporter) can let a
// span ended in the meantime be reported.
const endGrace = time.Second

// reportQueue hands the spans the runtime found dropped from the runtime's
// cleanup goroutine, which must never wait on a span processor, to a
// goroutine of the processor's own, started when there is something to
// report and gone when there is not. Each report waits endGrace first,
// and OnEnd cancels it if the span turns out to have been ending.
type reportQueue struct {
	emit  func(*watch)
	grace time.Duration

	pending atomic.Int32 // len(byKey), read by OnEnd without the lock

	mu      sync.Mutex
	queue   []*watch // in the order found: due times ascend
	byKey   map[spanKey]*watch
	running bool
	idle    chan struct{} // closed when the running goroutine stops
}

// push queues w, unless its span ended first, and starts the report
// goroutine if it is not running. It takes the queue's lock and nothing
// else; w is claimed (watchCollected) under that lock, so that an OnEnd
// that finds it claimed finds it queued once it has the lock.
func (q *reportQueue) push(w *watch) {
	q.mu.Lock()
	if !w.state.CompareAndSwap(watchOpen, watchCollected) {
		q.mu.Unlock()
		return
	}
	w.due = time.Now().Add(q.grace)
	q.queue = append(q.queue, w)
	if q.byKey == nil {
		q.byKey = make(map[spanKey]*watch)
	}
	q.byKey[w.key] = w
	q.pending.Store(int32(len(q.byKey)))
	start := !q.running
	if start {
		q.running = true
		q.idle = make(chan struct{})
	}
	q.mu.Unlock()
	if start {
		go q.run()
	}
}

// cancel cancels the queued report of the span with key k, if there is
// one: the span ended after all. Called by OnEnd for a span it did not
// find in the registry (one atomic load when nothing is queued), or found
// claimed by the runtime cleanup (always: that report is queued once the
// lock is had).
func (q *reportQueue) cancel(k spanKey, claimed bool) {
	if !claimed && q.pending.Load() == 0 {
		return
	}
	q.mu.Lock()
	if w := q.byKey[k]; w != nil {
		w.cancelled = true
		delete(q.byKey, k)
		q.pending.Store(int32(len(q.byKey)))
	}
	q.mu.Unlock()
}

func (q *reportQueue) run() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			close(q.idle)
			q.mu.Unlock()
			return
		}
		w := q.queue[0]
		if wait := time.Until(w.due); wait > 0 {
			q.mu.Unlock()
			time.Sleep(wait)
			continue
		}
		q.queue[0] = nil
		q.queue = q.queue[1:]
		cancelled := w.cancelled
		if q.byKey[w.key] == w {
			delete(q.byKey, w.key)
			q.pending.Store(int32(len(q.byKey)))
		}
		q.mu.Unlock()
		if !cancelled {
			q.emitSafely(w)
		}
	}
}

// wait returns when the queue is empty and no report is being made, or
// with ctx's error when ctx is done first.
func (q *reportQueue) wait(ctx context.Context) error {
	q.mu.Lock()
	running, idle := q.running, q.idle
	q.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// emitSafely emits w; a panic (from a span processor or exporter under the
// Tracker's provider) goes to otel.Handle rather than crash the process
// from a goroutine the program did not start.
func (q *reportQueue) emitSafely(w *watch) {
	defer func() {
		if r := recover(); r != nil {
			otel.Handle(fmt.Errorf("otelguard/spanleak: reporting span %q: panic: %v", w.name, r))
		}
	}()
	q.emit(w)
}
