package otelguard

import (
	"context"
	"log/slog"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/stacklog"
	"go.opentelemetry.io/otel/trace"
)

// The Tracker's logger (WithLogger) is where every leak reaches a person,
// whether or not its span was sampled: leaked_without_close and
// open_at_shutdown lifetimes are logged as Warn records, with their acquire
// stack, bounded per call site (see WithLeakLogInterval).

// defaultLeakLogInterval is the leak log interval of a Tracker made without
// WithLeakLogInterval.
const defaultLeakLogInterval = time.Minute

// logEnd logs a missed close (what: leaked_without_close,
// open_at_shutdown or closed_by_context): at once if it is the first of
// its call site in the interval, else folded into a summary the
// interval's end logs (see siteLimits). summarize is false for Shutdown,
// which logs every summary itself when it is done (it may run inside a
// testing/synctest bubble, where the library arms no timer).
func (l *lifetime) logEnd(what string, released bool, summarize bool) {
	t := l.t
	lg := t.cfg.logger
	if lg == nil || l.flags&flUntracked != 0 {
		return
	}
	interval := t.leakLogInterval()
	if interval < 0 {
		l.logRecord(lg, what, released, 0)
		return
	}
	key := l.siteHash()
	now := time.Now()
	t.logs.mu.Lock()
	s := t.logs.slot(key, now, interval)
	if s.since.IsZero() || (s.folded == 0 && s.timer == nil && now.Sub(s.since) >= interval) {
		// The site's first, or the first after a quiet interval: at once.
		s.since = now
		t.logs.mu.Unlock()
		l.logRecord(lg, what, released, 0)
		return
	}
	s.folded++
	s.l, s.what = l, what
	if summarize && s.timer == nil {
		s.timer = time.AfterFunc(max(0, interval-now.Sub(s.since)), func() { t.flushSlot(s) })
	}
	t.logs.mu.Unlock()
}

// flushSlot logs the summary of what was folded into a slot, and starts
// its next window: what comes in it is folded too, until a window passes
// with nothing.
func (t *Tracker) flushSlot(s *siteLimit) {
	t.logs.mu.Lock()
	s.timer = nil
	if s.folded == 0 {
		t.logs.mu.Unlock()
		return
	}
	l, what, n := s.l, s.what, s.folded
	s.since, s.folded, s.l = time.Now(), 0, nil
	t.logs.mu.Unlock()
	l.logRecord(t.cfg.logger, what, false, n)
}

// flushLogs logs every pending summary: Shutdown, when it is done.
func (t *Tracker) flushLogs() {
	t.logs.mu.Lock()
	var pending []*siteLimit
	if t.logs.tab != nil {
		for i := range t.logs.tab {
			if s := &t.logs.tab[i]; s.folded > 0 {
				pending = append(pending, s)
			}
		}
	}
	t.logs.mu.Unlock()
	for _, s := range pending {
		t.flushSlot(s)
	}
}

// logRecord writes one record. Its context carries the lifetime's span, so
// a handler that reads the trace context (the otelslog bridge) ties the
// record to the lifetime's trace, sampled or not.
func (l *lifetime) logRecord(lg *slog.Logger, what string, released bool, repeats int) {
	ctx := context.Background()
	if l.span != nil {
		ctx = trace.ContextWithSpan(ctx, l.span)
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String(string(attrkey.Name), l.name),
		slog.String(string(attrkey.Kind), string(kindNames[l.kind])),
		slog.Bool(string(attrkey.MissedClose), true))
	if what == missedContext {
		if e := l.endOf(); e != nil {
			attrs = append(attrs, slog.String(string(attrkey.MissedCloseDescription), e.missed))
		}
	} else {
		attrs = append(attrs, slog.String(string(attrkey.Outcome), what))
	}
	if age, ok := l.age(); ok {
		attrs = append(attrs, slog.Duration("otelguard.age", age))
	}
	if released {
		attrs = append(attrs, slog.Bool(string(attrkey.LeakReleased), true))
	}
	if repeats > 0 {
		attrs = append(attrs, slog.Int(string(attrkey.Repeats), repeats))
	}
	attrs = append(attrs, stacklog.Attr(string(attrkey.Stacktrace), l.stackText()))
	lg.LogAttrs(ctx, slog.LevelWarn, "otelguard: lifetime "+what, attrs...)
}

func (t *Tracker) leakLogInterval() time.Duration {
	if t.cfg.leakLog == 0 {
		return defaultLeakLogInterval
	}
	return t.cfg.leakLog
}
