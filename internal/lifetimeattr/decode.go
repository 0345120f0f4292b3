// Package lifetimeattr reads the otelguard attributes of a lifetime span,
// for the exporters that turn spans back into lifetimes (exporters/memory,
// exporters/leaklog), so that both read the contract the same way.
package lifetimeattr

import (
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// Fields are the otelguard attributes of a lifetime span.
type Fields struct {
	Kind            otelguard.Kind
	Outcome         otelguard.Outcome
	Trigger         otelguard.Trigger
	CleanupDuration time.Duration // from otelguard.cleanup.duration_ms
	Detached        bool
	LeakReleased    bool
	Stack           string // code.stacktrace
	ErrorType       string
}

// Decode reads attrs; ok is false if they are not a lifetime span's (no
// otelguard.kind).
func Decode(attrs []attribute.KeyValue) (f Fields, ok bool) {
	for _, kv := range attrs {
		switch kv.Key {
		case attrkey.Kind:
			f.Kind = otelguard.Kind(kv.Value.AsString())
			ok = true
		case attrkey.Outcome:
			f.Outcome = otelguard.Outcome(kv.Value.AsString())
		case attrkey.Trigger:
			f.Trigger = otelguard.Trigger(kv.Value.AsString())
		case attrkey.CleanupDuration:
			f.CleanupDuration = time.Duration(kv.Value.AsFloat64() * float64(time.Millisecond))
		case attrkey.CleanupDetached:
			f.Detached = kv.Value.AsBool()
		case attrkey.LeakReleased:
			f.LeakReleased = kv.Value.AsBool()
		case attrkey.Stacktrace:
			f.Stack = kv.Value.AsString()
		case attrkey.ErrorType:
			f.ErrorType = kv.Value.AsString()
		}
	}
	if !ok {
		return Fields{}, false
	}
	return f, true
}
