package otelguard

import (
	"testing"
	"testing/synctest"
	"time"
)

// inBubble tells a bubble from outside, however far the bubble's fake
// clock has run.
func TestInBubble(t *testing.T) {
	if inBubble() {
		t.Fatal("outside a bubble: inBubble says bubble")
	}
	synctest.Test(t, func(t *testing.T) {
		for _, d := range []time.Duration{0, 30 * 365 * 24 * time.Hour, 100 * 365 * 24 * time.Hour} {
			time.Sleep(d)
			if !inBubble() {
				t.Fatalf("inside a bubble, %v of fake time on: inBubble says no bubble", d)
			}
		}
	})
}
