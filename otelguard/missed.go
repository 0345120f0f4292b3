package otelguard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"go.opentelemetry.io/otel/attribute"
)

// A missed close is a lifetime its owner never ended: leaked (its handle
// dropped), open at Shutdown, or ended because a context ended rather
// than by a call of its owner (an integration says so with MissedClose).
// Every one carries otelguard.missed_close=true, status Error and the
// acquire stack, is counted (otelguard.lifetime.missed_close), logged
// through WithLogger and recorded for otelguardtest.

// The kinds of missed close, as otelguardtest and the log name them.
const (
	missedLeak     = "leaked_without_close"
	missedShutdown = "open_at_shutdown"
	missedContext  = "closed_by_context"
)

// MissedClose is for an integration's release: called with the ctx the
// release was given (or one derived from it), it makes the lifetime end as
// a missed close — its owner never ended it; something else did, such as
// database/sql closing rows because their context ended. The outcome
// still follows what the release returns; the span also gets
// otelguard.missed_close=true, status Error with description, and
// code.stacktrace (the acquire stack), and the missed close is counted,
// logged through WithLogger and fails otelguardtest. It must be called
// before the release returns. Called with any other ctx it does nothing.
func MissedClose(ctx context.Context, description string) {
	rc := releasing(ctx)
	if rc == nil {
		return
	}
	if description == "" {
		description = "ended because a context ended, not by its owner"
	}
	rc.l.editEnd(func(e *endInfo) { e.missed = description })
}

// SetEndAttributes is for a release: called with the ctx the release was
// given (or one derived from it), it adds kv to the attributes the
// lifetime's span gets when it ends (how many bytes a body had left, what
// closed a connection). It must be called before the release returns;
// with any other ctx it does nothing. Later values of a key replace
// earlier ones, as on a span.
func SetEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	rc := releasing(ctx)
	if rc == nil || len(kv) == 0 {
		return
	}
	rc.l.editEnd(func(e *endInfo) { e.attrs = append(e.attrs, kv...) })
}

// endInfo is what a release said about its lifetime's end.
type endInfo struct {
	missed string // MissedClose's description; "" when not missed
	attrs  []attribute.KeyValue
}

// editEnd changes the lifetime's endInfo, copy on write: the span may be
// ended from another goroutine (a bounded release abandoned at its
// deadline) while the release runs.
func (l *lifetime) editEnd(f func(*endInfo)) {
	x := l.extra()
	for {
		old := x.end.Load()
		next := &endInfo{}
		if old != nil {
			next.missed = old.missed
			next.attrs = append([]attribute.KeyValue(nil), old.attrs...)
		}
		f(next)
		if x.end.CompareAndSwap(old, next) {
			return
		}
	}
}

// endOf returns what the release said about the end, or nil.
func (l *lifetime) endOf() *endInfo {
	if x := l.x.Load(); x != nil {
		return x.end.Load()
	}
	return nil
}

// missedRecordsKept is how many of the most recent missed closes a
// Tracker keeps for otelguardtest.
const missedRecordsKept = 256

type missedBook struct {
	leaks atomic.Int64
	total atomic.Int64
	mu    sync.Mutex
	ring  []bridge.Missed // the most recent missedRecordsKept, oldest first
}

// recordMissed records a missed close for otelguardtest, once its span
// has ended.
func (t *Tracker) recordMissed(l *lifetime, what string, released bool) {
	if l.flags&flUntracked != 0 {
		return
	}
	desc := ""
	if e := l.endOf(); e != nil {
		desc = e.missed
	}
	r := bridge.Missed{
		ID:          l.seq,
		Name:        l.name,
		Kind:        string(kindNames[l.kind]),
		What:        what,
		Description: desc,
		AcquiredAt:  l.acquireTime(),
		FoundAt:     time.Now(),
		Stack:       l.stackText(),
		Released:    released,
	}
	b := &t.leaks.missed
	if what == missedLeak {
		b.leaks.Add(1)
	}
	b.total.Add(1)
	b.mu.Lock()
	if len(b.ring) == missedRecordsKept {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:missedRecordsKept-1]
	}
	b.ring = append(b.ring, r)
	b.mu.Unlock()
}

func init() {
	bridge.MissedOf = func(tracker any) ([]bridge.Missed, int64, int64) {
		t := tracker.(*Tracker)
		b := &t.leaks.missed
		b.mu.Lock()
		defer b.mu.Unlock()
		return append([]bridge.Missed(nil), b.ring...), b.leaks.Load(), b.total.Load()
	}
	bridge.LivePCs = func(live any) []uintptr {
		return live.(LiveLifetime).stack.PCs()
	}
}
