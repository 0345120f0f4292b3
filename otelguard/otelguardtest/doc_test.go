package otelguardtest_test

import (
	"context"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// serve stands for code under test: it acquires with the context it is
// given, naming no Tracker.
func serve(ctx context.Context) {
	conn := otelguard.Acquire(ctx, "db.conn", 1, release)
	defer conn.Close(ctx)
}

// The package documentation's first snippet, as a test.
func TestHandler(t *testing.T) {
	t.Parallel()
	rec := otelguardtest.NewTracker(t)
	serve(rec.Context()) // the code under test acquires with this context
	for _, l := range rec.Lifetimes() {
		t.Log(l.Name, l.Outcome)
	}
} // the test fails at the NewTracker line if serve leaked or left open a lifetime

// IgnoreCurrent's snippet: a test of code that uses otelguard.Default(),
// judged on what it acquired only.
func TestWithDefaultAndIgnoreCurrent(t *testing.T) {
	defer otelguardtest.VerifyNone(t, otelguard.Default(), otelguardtest.IgnoreCurrent())
	serve(context.Background())
}
