package otelguard

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/internal/stacklog"
	"go.opentelemetry.io/otel/trace"
)

// The Tracker's logger (WithLogger) is where every leak reaches a person,
// whether or not its span was sampled: leaked_without_close and
// open_at_shutdown lifetimes are logged as Warn records, with their acquire
// stack, bounded per call site (see WithLeakLogInterval).

// DefaultLeakLogInterval is the leak log interval of a Tracker made without
// WithLeakLogInterval.
const DefaultLeakLogInterval = time.Minute

// RepeatsKey is the attribute of a record that stands for lifetimes folded
// into it: how many more ended so at the same call site since the site's
// last record.
const RepeatsKey = "otelguard.repeats"

// leakLog folds the records of one call site within an interval.
type leakLog struct {
	mu    sync.Mutex
	sites map[any]*siteLog
}

// siteLog is one call site's state: when its window started, and what was
// folded into it since.
type siteLog struct {
	since  time.Time
	folded int
	l      *lifetime // the latest folded, for the summary's fields
	o      Outcome
	timer  *time.Timer
}

// logEnd logs a lifetime that ended leaked_without_close or
// open_at_shutdown: at once if it is the first of its call site in the
// interval, else folded into a summary the interval's end logs. summarize
// is false for Shutdown, which logs every summary itself when it is done
// (it may run inside a testing/synctest bubble, where the library arms no
// timer).
func (l *lifetime) logEnd(o Outcome, released bool, summarize bool) {
	t := l.t
	lg := t.cfg.logger
	if lg == nil {
		return
	}
	key := any(l.stack)
	if l.stack == nil {
		key = siteKey{name: l.name, kind: l.kind}
	}
	now := time.Now()
	t.logs.mu.Lock()
	if t.logs.sites == nil {
		t.logs.sites = make(map[any]*siteLog)
	}
	s := t.logs.sites[key]
	if s == nil || (s.folded == 0 && now.Sub(s.since) >= t.leakLogInterval()) {
		// The site's first, or the first after a quiet interval: at once.
		t.logs.sites[key] = &siteLog{since: now}
		t.logs.mu.Unlock()
		l.logRecord(lg, o, released, 0)
		return
	}
	s.folded++
	s.l, s.o = l, o
	if summarize && s.timer == nil {
		s.timer = time.AfterFunc(max(0, t.leakLogInterval()-now.Sub(s.since)), func() { t.flushSite(key) })
	}
	t.logs.mu.Unlock()
}

// flushSite logs the summary of what was folded at a site, and starts its
// next window: what comes in it is folded too, until a window passes with
// nothing.
func (t *Tracker) flushSite(key any) {
	t.logs.mu.Lock()
	s := t.logs.sites[key]
	if s == nil {
		t.logs.mu.Unlock()
		return
	}
	s.timer = nil
	if s.folded == 0 {
		t.logs.mu.Unlock()
		return
	}
	l, o, n := s.l, s.o, s.folded
	s.since, s.folded, s.l = time.Now(), 0, nil
	t.logs.mu.Unlock()
	l.logRecord(t.cfg.logger, o, false, n)
}

// flushLogs logs every pending summary: Shutdown, when it is done.
func (t *Tracker) flushLogs() {
	t.logs.mu.Lock()
	keys := make([]any, 0, len(t.logs.sites))
	for k, s := range t.logs.sites {
		if s.folded > 0 {
			keys = append(keys, k)
		}
	}
	t.logs.mu.Unlock()
	for _, k := range keys {
		t.flushSite(k)
	}
}

// logRecord writes one record. Its context carries the lifetime's span, so
// a handler that reads the trace context (the otelslog bridge) ties the
// record to the lifetime's trace, sampled or not.
func (l *lifetime) logRecord(lg *slog.Logger, o Outcome, released bool, repeats int) {
	ctx := context.Background()
	if l.span != nil {
		ctx = trace.ContextWithSpan(ctx, l.span)
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String(string(NameKey), l.name),
		slog.String(string(KindKey), string(kindNames[l.kind])),
		slog.String(string(OutcomeKey), string(o)))
	if age, ok := l.age(); ok {
		attrs = append(attrs, slog.Duration("otelguard.age", age))
	}
	if released {
		attrs = append(attrs, slog.Bool(string(LeakReleasedKey), true))
	}
	if repeats > 0 {
		attrs = append(attrs, slog.Int(RepeatsKey, repeats))
	}
	attrs = append(attrs, stacklog.Attr(string(StacktraceKey), l.stackText()))
	lg.LogAttrs(ctx, slog.LevelWarn, "otelguard: lifetime "+string(o), attrs...)
}

// WithLeakLogInterval bounds what the Tracker's logger writes about
// leaked_without_close and open_at_shutdown lifetimes: the first of a call
// site (the same acquire stack; without stacks, the same name and kind) is
// logged at once; the next ones are counted, and at the end of each
// interval d one record stands for those of the interval, with
// otelguard.repeats = their count (and the fields of the latest). After an
// interval with none, the next is logged at once again. A leak in a loop
// of a million is a record per interval, not a million. Shutdown logs what
// it has counted before it returns. Zero or negative d selects
// DefaultLeakLogInterval (one minute).
func WithLeakLogInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.leakLog = d })
}

func (t *Tracker) leakLogInterval() time.Duration {
	if t.cfg.leakLog <= 0 {
		return DefaultLeakLogInterval
	}
	return t.cfg.leakLog
}
