package otelguardtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// exampleT stands in for a test's *testing.T: it prints the first lines of
// each error, and runs its cleanups when end is called, as testing does
// when a test returns.
type exampleT struct{ cleanups []func() }

func (t *exampleT) Error(args ...any) {
	lines := strings.Split(fmt.Sprint(args...), "\n")
	fmt.Println("FAIL:", strings.Join(lines[:min(len(lines), 4)], "\n"))
}

func (t *exampleT) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// openReport forgets to close what it acquires.
//
//go:noinline
func openReport(tracker *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the example shows what Find reports
	otelguard.Acquire(context.Background(), "report.buffer", make([]byte, 4096),
		func(context.Context, []byte) error { return nil }, otelguard.WithTracker(tracker))
}

func ExampleNewTracker() {
	t := &exampleT{} // in a test: the test's t
	rec := otelguardtest.NewTracker(t)
	ctx := rec.Context() // carries the test's Tracker to the code under test

	conn := otelguard.Acquire(ctx, "db.conn", "primary", func(context.Context, string) error { return nil })
	_ = conn.Close(ctx)
	for _, l := range rec.Lifetimes() {
		fmt.Println(l.Name, l.Outcome)
	}

	openReport(rec.Tracker)
	t.end() // the test returns: its tracker is checked
	// Output:
	// db.conn cleaned
	// FAIL: otelguard: found 1 unreleased lifetime:
	//
	// resource "report.buffer": leaked_without_close, acquired at:
	// github.com/otelguard/otelguard-go/otelguard/otelguardtest_test.openReport(...)
}

func ExampleFind() {
	tracker := otelguard.New()
	openReport(tracker)
	held := otelguard.NewGuard(context.Background(), "worker.lock", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))

	err := otelguardtest.Find(tracker, otelguardtest.MaxRetries(3))
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "\t") && strings.HasSuffix(line, ":") {
			fmt.Println(line) // the heading and each lifetime, without the stacks
		}
	}

	_ = held.Run()
	fmt.Println("after Run:", otelguardtest.Find(tracker, otelguardtest.IgnoreName("report.buffer")))
	// Output:
	// otelguard: found 2 unreleased lifetimes:
	// resource "report.buffer": leaked_without_close, acquired at:
	// guard "worker.lock": open, acquired at:
	// after Run: <nil>
}

func ExampleVerifyNone() {
	t := &exampleT{} // in a test: the test's t
	tracker := otelguard.New()

	func() {
		defer otelguardtest.VerifyNone(t, tracker)
		g := otelguard.NewGuard(context.Background(), "tx.rollback", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
		defer g.Run()
	}()
	fmt.Println("clean: no failure")

	func() {
		defer otelguardtest.VerifyNone(t, tracker, otelguardtest.IgnoreCurrent())
		openReport(tracker)
	}()
	// Output:
	// clean: no failure
	// FAIL: otelguard: found 1 unreleased lifetime:
	//
	// resource "report.buffer": leaked_without_close, acquired at:
	// github.com/otelguard/otelguard-go/otelguard/otelguardtest_test.openReport(...)
}

// VerifyTestMain belongs in a package's TestMain. This example is not run:
// VerifyTestMain exits the process.
func ExampleVerifyTestMain() {
	testMain := func(m *testing.M) {
		otelguardtest.VerifyTestMain(m, otelguardtest.IgnoreName("shared.pool"))
	}
	_ = testMain
}
