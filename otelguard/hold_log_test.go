package otelguard_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

//go:noinline
func holdTheCheckout(tr *otelguard.Tracker) *otelguard.Guard {
	return otelguard.NewGuard(context.Background(), "db.checkout", nop, otelguard.WithTracker(tr), otelguard.WithHoldThreshold(time.Second))
}

// The hold threshold's Warn record names the code that acquired the
// lifetime, whatever leak detection does: its stack is captured for the
// threshold (the mutation audit found this asserted only in
// otelguardtest's tests).
func TestHeldTooLongRecordNamesTheAcquiringCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := offHarness(t, otelguard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		g := holdTheCheckout(h.tr)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		out := logs.String()
		if !strings.Contains(out, `msg="otelguard: lifetime held too long"`) ||
			!strings.Contains(out, "otelguard.name=db.checkout") ||
			!strings.Contains(out, "otelguard_test.holdTheCheckout") {
			t.Fatalf("the held-too-long record does not name the acquiring function:\n%s", out)
		}
		_ = g.Run()
	})
}
