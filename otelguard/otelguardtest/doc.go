// Package otelguardtest fails a test that leaves an otelguard lifetime
// leaked or open, as go.uber.org/goleak does for goroutines, and records a
// test's lifetimes for assertions.
//
// A test that makes its own Tracker with NewTracker is checked when it
// ends, and sees only its own lifetimes, so tests that run in parallel are
// told apart (goleak cannot tell which parallel test leaked a goroutine):
//
//	func TestHandler(t *testing.T) {
//		t.Parallel()
//		rec := otelguardtest.NewTracker(t)
//		serve(rec.Context()) // the code under test acquires with this context
//		for _, l := range rec.Lifetimes() {
//			t.Log(l.Name, l.Outcome)
//		}
//	} // the test fails at the NewTracker line if serve leaked or left open a lifetime
//
// Code that uses otelguard.Default() (the package-level functions without
// WithTracker) is checked once all the tests of a package have passed:
//
//	func TestMain(m *testing.M) {
//		otelguardtest.VerifyTestMain(m)
//	}
//
// Find is the check itself, returning an error; VerifyNone reports that
// error through a TestingT. A lifetime fails the check if it is a missed
// close — leak detection found its handle dropped without Close, Run or
// Disarm (leaked_without_close), or something other than its owner ended
// it because a context ended (closed_by_context: database/sql closing rows
// when the test's own t.Context() ended first) — or if it is still open
// when the check runs.
//
// CheckSpans does the same for OpenTelemetry spans: a span processor (of
// package otelguard/spanleak, watching every span) that fails the test for
// each span it leaves un-ended, naming where the span started. The report names each one,
// with its state and the stack that acquired it.
//
// Leak detection relies on the garbage collector, so Find forces
// collections and retries for a bounded time, as goleak does. A lifetime
// whose handle is still reachable when the check runs is reported as
// open: end every lifetime before the test returns, including those
// released on the library's goroutines (CloseAsync, CloseOnCancel).
//
// Helpers take a TestingT (Error and Cleanup; Helper, Context and Output
// when present), which *testing.T and *testing.B satisfy and which a fake
// can implement.
package otelguardtest
