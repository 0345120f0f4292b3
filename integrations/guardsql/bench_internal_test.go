package guardsql

import "testing"

// BenchmarkPeek measures the short walk of ResetSession.
func BenchmarkPeek(b *testing.B) {
	b.ReportAllocs()
	nest(11, func() {
		for b.Loop() {
			_, _ = peekCaller()
		}
	})
}

// BenchmarkWalk measures walkCaller from under eleven frames of this
// package, as many as database/sql puts between a user's QueryContext and
// the driver's (the classes are cached, as after the first query).
func BenchmarkWalk(b *testing.B) {
	b.ReportAllocs()
	var w walk
	nest(11, func() {
		for b.Loop() {
			w = walkCaller()
		}
	})
	if w.skip < 11 {
		b.Fatalf("skip %d, want at least 11", w.skip)
	}
}

//go:noinline
func nest(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	nest(n-1, f)
}
