package spanleak

import (
	"fmt"

	"context"
	"go.opentelemetry.io/otel"
	"sync"
)

// reportQueue hands the spans the runtime found dropped from the runtime's
// cleanup goroutine, which must never wait on a span processor, to a
// goroutine of the processor's own, started when there is something to
// report and gone when there is not.
type reportQueue struct {
	emit func(*watch)

	mu      sync.Mutex
	queue   []*watch
	running bool
	idle    chan struct{} // closed when the running goroutine stops
}

// push queues w and starts the report goroutine if it is not running. It
// takes the queue's lock and nothing else.
func (q *reportQueue) push(w *watch) {
	q.mu.Lock()
	q.queue = append(q.queue, w)
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

func (q *reportQueue) run() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			close(q.idle)
			q.mu.Unlock()
			return
		}
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, w := range batch {
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
