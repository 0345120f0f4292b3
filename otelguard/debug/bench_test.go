package debug_test

import (
	"io"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/debug"
)

// benchTracker holds n open lifetimes acquired at three sites.
func benchTracker(b *testing.B, n int) *otelguard.Tracker {
	tr := newTracker(b)
	var rs []*otelguard.Resource[int]
	for len(rs) < n {
		rs = append(rs, openConns(tr, 1)...)
		rs = append(rs, openNamed(tr, "cache.a"), openNamed(tr, "cache.b"))
	}
	b.Cleanup(func() { closeAll(b, rs...) })
	return tr
}

func BenchmarkWriteProfile10k(b *testing.B) {
	tr := benchTracker(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if err := debug.WriteProfile(io.Discard, tr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteText10k(b *testing.B) {
	tr := benchTracker(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if err := debug.WriteText(io.Discard, tr); err != nil {
			b.Fatal(err)
		}
	}
}
