package otelguard

import (
	"context"
	"log/slog"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/internal/stacklog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Findings. A span is exported only when it ends, so a lifetime held open
// for an hour, or found leaked long after its request's trace was sampled
// and gone, is invisible in a tracing backend. When the library learns
// something about a lifetime that its owner did not say, it emits at that
// moment a finding: a root span of its own trace (its sampling does not
// depend on the lifetime's trace, decided long before), named
// otelguard.finding, with a link to the lifetime's span and, given at
// start so a sampler sees them, otelguard.finding, otelguard.name,
// otelguard.kind, otelguard.age_ms, code.stacktrace and the Request's
// attributes (http.request.method, http.route) where there is one.
// sampling.KeepFindings keeps every one whatever the head sampling.
//
// Findings are rate-limited per call site and finding, as the leak log is
// (siteLimits, WithLeakLogInterval): one span per site per interval; the
// ones folded meanwhile are counted in otelguard.repeats on the next. The
// metric otelguard.findings counts every one, folded or not.

// The kinds of finding the core emits.
const (
	findingHeld     = "held_too_long"
	findingLeak     = "leaked_without_close"
	findingShutdown = "open_at_shutdown"
	findingOutlived = "outlived_request"
	findingContext  = "closed_by_context"
)

// finding emits a finding about l.
func (l *lifetime) finding(kind string) {
	if l.flags&flUntracked != 0 {
		return
	}
	f := bridge.Finding{
		Kind:         kind,
		Name:         l.name,
		LifetimeKind: string(kindNames[l.kind]),
		Age:          -1,
		Site:         l.siteHash(),
	}
	if l.span != nil {
		f.Link = l.span.SpanContext()
	}
	if age, ok := l.age(); ok {
		f.Age = age
	}
	if l.stack != nil {
		f.PCs = l.stack.pcs
	}
	if r := requestFrom(l.ctx); r != nil {
		f.Attrs = r.attributes()
	}
	l.t.emitFinding(&f, l.stack)
}

// emitFinding emits f: see the top of this file. st, when not nil, is
// f.PCs interned, whose rendering is cached.
func (t *Tracker) emitFinding(f *bridge.Finding, st *stack) {
	if m := t.metrics(); m != nil {
		m.recordFinding(f)
	}
	site := f.Site
	if site == 0 {
		switch {
		case len(f.PCs) > 0:
			site = hashPCs(f.PCs)
		default:
			site = siteKey{name: f.Stack + "\x00" + f.Name}.Hash()
		}
	}
	site ^= siteKey{name: f.Kind}.Hash()
	repeats := 0
	if interval := t.leakLogInterval(); interval >= 0 {
		now := time.Now()
		t.finds.mu.Lock()
		s := t.finds.slot(site, now, interval)
		if !s.since.IsZero() && now.Sub(s.since) < interval {
			s.folded++
			s.find, s.st = f, st // Shutdown emits it if nothing else comes
			t.finds.mu.Unlock()
			return
		}
		repeats, s.since, s.folded, s.find, s.st = s.folded, now, 0, nil, nil
		t.finds.mu.Unlock()
	}
	t.emitFindingNow(f, st, repeats)
}

// flushFindings emits, for each site with folded findings, a summary: the
// latest's fields, otelguard.repeats = how many were folded. Shutdown, so
// that no folded finding is lost to a site that never found another.
func (t *Tracker) flushFindings() {
	type pending struct {
		f       *bridge.Finding
		st      *stack
		repeats int
	}
	var ps []pending
	t.finds.mu.Lock()
	if t.finds.tab != nil {
		for i := range t.finds.tab {
			if s := &t.finds.tab[i]; s.folded > 0 && s.find != nil {
				// A summary, as the leak log's: it carries the latest's
				// fields and stands for every one folded.
				ps = append(ps, pending{s.find, s.st, s.folded})
				s.folded, s.find, s.st = 0, nil, nil
			}
		}
	}
	t.finds.mu.Unlock()
	for _, p := range ps {
		t.emitFindingNow(p.f, p.st, p.repeats)
	}
}

// emitFindingNow emits f, standing for itself and repeats folded before
// it: the span and, if f.Log, the record.
func (t *Tracker) emitFindingNow(f *bridge.Finding, st *stack, repeats int) {
	stackText := f.Stack
	switch {
	case st != nil:
		stackText = st.format()
	case len(f.PCs) > 0:
		stackText = renderPCs(f.PCs)
	}
	ts := t.tracerFor()
	if !ts.noop {
		attrs := make([]attribute.KeyValue, 0, 7+len(f.Attrs))
		attrs = append(attrs,
			attrkey.Finding.String(f.Kind),
			attrkey.Name.String(f.Name),
			attrkey.Kind.String(f.LifetimeKind))
		if f.Age >= 0 {
			attrs = append(attrs, attrkey.Age.Float64(float64(f.Age)/float64(time.Millisecond)))
		}
		if stackText != "" {
			attrs = append(attrs, attrkey.Stacktrace.String(stackText))
		}
		if repeats > 0 {
			attrs = append(attrs, attrkey.Repeats.Int(repeats))
		}
		attrs = append(attrs, f.Attrs...)
		opts := []trace.SpanStartOption{
			trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attrs...),
		}
		if f.Link.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: f.Link}))
		}
		_, span := ts.tracer.Start(context.Background(), attrkey.FindingSpan, opts...)
		span.End()
	}
	if lg := t.cfg.logger; lg != nil && f.Log {
		as := []slog.Attr{
			slog.String(string(attrkey.Finding), f.Kind),
			slog.String(string(attrkey.Name), f.Name),
			slog.String(string(attrkey.Kind), f.LifetimeKind),
		}
		if f.Age >= 0 {
			as = append(as, slog.Duration("otelguard.age", f.Age))
		}
		if repeats > 0 {
			as = append(as, slog.Int(string(attrkey.Repeats), repeats))
		}
		for _, kv := range f.Attrs {
			as = append(as, slog.Any(string(kv.Key), kv.Value.AsInterface()))
		}
		as = append(as, stacklog.Attr(string(attrkey.Stacktrace), stackText))
		ctx := context.Background()
		if f.Link.IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, f.Link)
		}
		lg.LogAttrs(ctx, slog.LevelWarn, "otelguard: finding "+f.Kind, as...)
	}
}

// renderPCs renders program counters as stack.format does, without
// interning them.
func renderPCs(pcs []uintptr) string { return (&stack{pcs: pcs}).render() }

func init() {
	bridge.EmitFinding = func(tracker any, f bridge.Finding) {
		tracker.(*Tracker).emitFinding(&f, nil)
	}
}
