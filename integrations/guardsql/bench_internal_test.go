package guardsql

import "testing"

// BenchmarkPeek measures the short walk of ResetSession.
func BenchmarkPeek(b *testing.B) {
	b.ReportAllocs()
	nest(11, func() {
		for b.Loop() {
			_ = peekCaller()
		}
	})
}

// BenchmarkWalk measures walkCaller from under eleven frames of this
// package, as many as database/sql puts between a user's QueryContext and
// the driver's (the classes are cached, as after the first query).
func BenchmarkWalk(b *testing.B) {
	b.ReportAllocs()
	var seen uint16
	nest(11, func() {
		for b.Loop() {
			seen = walkCaller()
		}
	})
	if seen&fInternal == 0 {
		b.Fatalf("seen %#x: the frames of nest are this package's", seen)
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
