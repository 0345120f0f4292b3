package otelguardtest_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// NewTracker and VerifyNone inside a testing/synctest bubble: the leak of a
// handle dropped in the bubble is found and fails the test (here a fake
// one), and nothing crashes. (Before the v1 core they gave "fatal error:
// close of synctest channel from outside bubble" in most runs: the leak
// report, which runs outside every bubble, woke the bubble's Flush through
// a channel of the bubble.)
func TestNewTrackerInsideABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeT{}
		rec := otelguardtest.NewTracker(ft, otelguard.WithDefaultHoldThreshold(time.Minute))
		openAndForget(rec.Tracker)
		openAndClose(rec.Tracker)
		ft.finish()
		errs := ft.errors()
		if len(errs) != 1 || !strings.Contains(errs[0], `resource "db.conn": leaked_without_close, acquired at:`) ||
			!strings.Contains(errs[0], "openAndForget") {
			t.Fatalf("errors = %q, want the leak of openAndForget", errs)
		}
		if n := len(rec.Exporter.Leaks()); n != 1 {
			t.Fatalf("%d leak spans exported", n)
		}
	})
}

// The same with the bubble's own *testing.T, on a test that releases what
// it acquires, including a release that takes fake time.
func TestNewTrackerInsideABubblePasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := otelguardtest.NewTracker(t)
		r := otelguard.Acquire(context.Background(), "slow", 0, func(context.Context, int) error {
			time.Sleep(10 * time.Millisecond)
			return nil
		}, otelguard.WithTracker(rec.Tracker))
		done := r.CloseAsync(context.Background())
		otelguardtest.VerifyNone(t, rec.Tracker)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
