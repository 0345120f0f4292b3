package spanleak_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
)

// A tracer taken from the global provider before the program set it is
// otel's delegating tracer, one more frame of otel's own between the
// program and the SDK: the start stack still begins in the program.
func TestStartStackSkipsTheGlobalDelegate(t *testing.T) {
	delegating := otel.Tracer("example.com/global") // before SetTracerProvider: a delegate
	e := newEnv(t, "simple", true)
	otel.SetTracerProvider(e.app)
	forgetEnd(context.Background(), delegating, "via delegate")
	forgetEnd(context.Background(), otel.Tracer("example.com/global2"), "via global")
	e.collect(t, 0)
	fs := e.found("span_not_ended")
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2", len(fs))
	}
	for _, f := range fs {
		if got := firstFunction(f.stack); got != pkg+"forgetEnd" {
			t.Errorf("%s: first frame %q, want forgetEnd; stack:\n%s", f.name, got, f.stack)
		}
	}
}
