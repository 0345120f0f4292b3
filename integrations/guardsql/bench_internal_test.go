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
	var s site
	nest(11, func() {
		for b.Loop() {
			s = walkCaller()
		}
	})
	if s != siteUser {
		b.Fatalf("site %d, want siteUser: the frames of nest are this package's, the benchmark's are the user's", s)
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
