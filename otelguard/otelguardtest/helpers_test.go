package otelguardtest_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"go.uber.org/goleak"
)

// helperEnv selects, in a child process of this test binary, what the
// helper tests and TestMain do (see subprocess_test.go).
const helperEnv = "OTELGUARDTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "verifytestmain" {
		otelguardtest.VerifyTestMain(m, otelguardtest.MaxRetries(5))
		return // not reached: VerifyTestMain exits
	}
	goleak.VerifyTestMain(m)
}

// fakeT is a TestingT that records what the helpers do to it.
type fakeT struct {
	mu       sync.Mutex
	errs     []string
	cleanups []func()
	helpers  int
}

var _ otelguardtest.TestingT = (*fakeT)(nil)

func (f *fakeT) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprint(args...))
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeT) Helper() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.helpers++
}

// finish runs the cleanups, last registered first, as testing does when a
// test ends.
func (f *fakeT) finish() {
	f.mu.Lock()
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (f *fakeT) errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func nop(context.Context) error { return nil }

func release(context.Context, int) error { return nil }

// openAndForget acquires a resource and drops its handle.
//
//go:noinline
func openAndForget(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the test wants the GC's leaked_without_close report
	otelguard.Acquire(context.Background(), "db.conn", 1, release, otelguard.WithTracker(tr))
}

// openAndClose acquires a resource and closes it.
//
//go:noinline
func openAndClose(tr *otelguard.Tracker) {
	r := otelguard.Acquire(context.Background(), "db.conn", 1, release, otelguard.WithTracker(tr))
	_ = r.Close(context.Background())
}
