package otelguard

import (
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkNoopFloor is what a Guard costs on the noop provider with leak
// detection off before it does anything a Guard is for: its one
// allocation, the clock read that gives Live its ages, and its place in
// the registry (added, removed) that Live, CloseAll and Shutdown need.
// BenchmarkNoop's otelguard case is this floor plus the state machine and
// the release; the difference to a raw noop span is what the registry
// costs, whoever traces.
func BenchmarkNoopFloor(b *testing.B) {
	tr := New(WithTracerProvider(noop.NewTracerProvider()), WithLeakDetection(LeakDetectionOff))
	b.ReportAllocs()
	for b.Loop() {
		g := &guardBox{}
		g.l.t = tr
		g.l.setClock()
		tr.reg.add(&g.l)
		tr.reg.remove(&g.l)
	}
}
