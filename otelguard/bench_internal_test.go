package otelguard

import (
	"fmt"
	"slices"
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
	tr := New(WithTracerProvider(noop.NewTracerProvider()), WithLeakSampling(-1))
	b.ReportAllocs()
	for b.Loop() {
		g := &guardBox{}
		g.l.t = tr
		g.l.setClock()
		tr.reg.add(&g.l)
		tr.reg.remove(&g.l)
	}
}

// BenchmarkCaptureStackSkipPackages is the acquire stack's capture as the
// integrations ask for it (WithCallerSkipPackages: a few leading frames of
// a library to skip, here slices' sort), called from a goroutine whose
// stack is shallow, or deep as a service's request handler is (the user's
// frames under it number 60). Frames walked are what it costs.
func BenchmarkCaptureStackSkipPackages(b *testing.B) {
	for _, frames := range []int{0, 60} {
		b.Run(fmt.Sprintf("frames=%d", frames), func(b *testing.B) {
			b.ReportAllocs()
			underFrames(frames, func() {
				s := []int{2, 1}
				for b.Loop() {
					slices.SortFunc(s, func(x, y int) int {
						_ = captureStack(1, defaultStackDepth, []string{"slices"})
						return x - y
					})
				}
			})
		})
	}
}

// underFrames calls f under n frames of its own.
//
//go:noinline
func underFrames(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	underFrames(n-1, f)
}
