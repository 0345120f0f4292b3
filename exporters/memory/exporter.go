package memory

import (
	"context"
	"slices"

	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// An Exporter keeps every span exported to it in memory, in the order they
// were exported, and reads them back as otelguard lifetimes.
//
// The zero Exporter is ready to use. An Exporter must not be copied after
// first use. All its methods are safe for concurrent use by any number of
// goroutines; every read returns a copy that the caller owns, which later
// exports and Reset do not change.
type Exporter struct {
	mem tracetest.InMemoryExporter
}

// New returns an empty Exporter.
func New() *Exporter { return &Exporter{} }

// ExportSpans records spans. If ctx is already done it records nothing and
// returns ctx's error; otherwise it returns nil. It never blocks on
// anything but the Exporter's own lock.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.mem.ExportSpans(ctx, spans)
}

// Shutdown keeps the records (unlike tracetest.InMemoryExporter, which
// clears them) and returns nil, so that a test can read what was exported
// after shutting its TracerProvider down. The Exporter goes on recording
// spans exported after Shutdown; a TracerProvider exports none after its
// own Shutdown.
func (e *Exporter) Shutdown(context.Context) error { return nil }

// Reset forgets every record.
func (e *Exporter) Reset() { e.mem.Reset() }

// Spans returns every span recorded, lifetimes or not, in export order.
// The result, including each span's attribute, event and link slices, is
// a copy.
func (e *Exporter) Spans() tracetest.SpanStubs {
	ss := e.mem.GetSpans()
	for i := range ss {
		cloneStub(&ss[i])
	}
	return ss
}

// Lifetimes returns the recorded lifetime spans, in the order they ended
// (export order), decoded. Spans without the otelguard.kind attribute,
// such as misuse records, are left out.
func (e *Exporter) Lifetimes() []Lifetime {
	return e.lifetimes(func(Lifetime) bool { return true })
}

// Leaks returns the recorded lifetimes whose outcome is
// leaked_without_close, in the order they ended: their handles became
// unreachable before anything ended them. Lifetimes found open by
// Tracker.Shutdown (open_at_shutdown) are not leaks; read them with
// ByOutcome.
func (e *Exporter) Leaks() []Lifetime {
	return e.ByOutcome(otelguard.OutcomeLeaked)
}

// ByOutcome returns the recorded lifetimes that ended with outcome o, in
// the order they ended.
func (e *Exporter) ByOutcome(o otelguard.Outcome) []Lifetime {
	return e.lifetimes(func(l Lifetime) bool { return l.Outcome == o })
}

func (e *Exporter) lifetimes(keep func(Lifetime) bool) []Lifetime {
	var out []Lifetime
	for _, s := range e.mem.GetSpans() {
		l, ok := lifetimeFrom(s)
		if ok && keep(l) {
			cloneStub(&l.Span)
			out = append(out, l)
		}
	}
	return out
}

// Misuses returns the recorded misuse records (spans named
// attrkey.MisuseSpan), in the order they were exported.
func (e *Exporter) Misuses() []Misuse {
	var out []Misuse
	for _, s := range e.mem.GetSpans() {
		m, ok := misuseFrom(s)
		if ok {
			cloneStub(&m.Span)
			out = append(out, m)
		}
	}
	return out
}

// cloneStub gives s slices of its own, so that a caller changing what a
// read returned changes no other read.
func cloneStub(s *tracetest.SpanStub) {
	s.Attributes = slices.Clone(s.Attributes)
	if s.Events != nil {
		s.Events = slices.Clone(s.Events)
		for i := range s.Events {
			s.Events[i].Attributes = slices.Clone(s.Events[i].Attributes)
		}
	}
	if s.Links != nil {
		s.Links = slices.Clone(s.Links)
		for i := range s.Links {
			s.Links[i].Attributes = slices.Clone(s.Links[i].Attributes)
		}
	}
}
