package spanleak_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// delegating is taken from the global provider before any test sets it:
// otel's delegating tracer, which forwards to the first provider set.
var delegating = otel.Tracer("example.com/global")

var delegateSet bool // the first run of the test below set it

// A tracer from the global provider, and otel's delegating tracer (one
// more frame of otel's own between the program and the SDK): the start
// stack still begins in the program.
func TestStartStackSkipsTheGlobalDelegate(t *testing.T) {
	e := newEnv(t, "simple", true)
	otel.SetTracerProvider(e.app)
	tracers := []trace.Tracer{otel.Tracer("example.com/global2")}
	if !delegateSet {
		// The delegate forwards to the first provider set only: this
		// run's (a later run in the same process, -count, cannot use it).
		delegateSet = true
		tracers = append(tracers, delegating)
	}
	for _, tr := range tracers {
		forgetEnd(context.Background(), tr, "via global")
	}
	e.collect(t, 0)
	fs := e.found("span_not_ended")
	if len(fs) != len(tracers) {
		t.Fatalf("%d findings, want %d", len(fs), len(tracers))
	}
	for _, f := range fs {
		if got := firstFunction(f.stack); got != pkg+"forgetEnd" {
			t.Errorf("first frame %q, want forgetEnd; stack:\n%s", got, f.stack)
		}
	}
}
