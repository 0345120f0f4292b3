package debug_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// thisPkg is the import path of the test package, which prefixes the
// names of the acquiring functions below.
const thisPkg = "github.com/otelguard/otelguard-go/otelguard/debug_test."

// newTracker is a Tracker without spans whose still-open lifetimes are
// released when the test ends.
func newTracker(t testing.TB, opts ...otelguard.Option) *otelguard.Tracker {
	t.Helper()
	opts = append([]otelguard.Option{otelguard.WithTracerProvider(noop.NewTracerProvider())}, opts...)
	tr := otelguard.New(opts...)
	t.Cleanup(func() {
		if err := tr.CloseAll(context.Background()); err != nil {
			t.Errorf("CloseAll: %v", err)
		}
	})
	return tr
}

func releaseInt(context.Context, int) error { return nil }

// openConns acquires n resources named db.conn at one call site.
//
//go:noinline
func openConns(tr *otelguard.Tracker, n int) []*otelguard.Resource[int] {
	var rs []*otelguard.Resource[int]
	for i := range n {
		rs = append(rs, otelguard.Acquire(context.Background(), "db.conn", i, releaseInt, otelguard.WithTracker(tr)))
	}
	return rs
}

// openNamed acquires one resource named name.
//
//go:noinline
func openNamed(tr *otelguard.Tracker, name string) *otelguard.Resource[int] {
	return otelguard.Acquire(context.Background(), name, 0, releaseInt, otelguard.WithTracker(tr))
}

func noopCleanup(context.Context) error { return nil }

// guardInline is small enough to be inlined into its caller: its
// lifetime's first frame is an inlined one.
func guardInline(tr *otelguard.Tracker) *otelguard.Guard {
	return otelguard.NewGuard(context.Background(), "inl.guard", noopCleanup, otelguard.WithTracker(tr))
}

// openSlow acquires a resource whose release blocks until unblock is
// closed, and starts closing it; it returns when the lifetime is
// releasing. wait waits for the Close to return.
//
//go:noinline
func openSlow(t *testing.T, tr *otelguard.Tracker) (unblock chan struct{}, wait func()) {
	t.Helper()
	unblock = make(chan struct{})
	entered := make(chan struct{})
	r := otelguard.Acquire(context.Background(), "slow.conn", 0, func(context.Context, int) error {
		close(entered)
		<-unblock
		return nil
	}, otelguard.WithTracker(tr))
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Close(context.Background()) })
	<-entered
	return unblock, wg.Wait
}

func closeAll[T any](t testing.TB, rs ...*otelguard.Resource[T]) {
	t.Helper()
	for _, r := range rs {
		if err := r.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// lines splits text into lines, without the final empty one.
func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }
