// Package attrkey names what otelguard writes: the attribute keys of its
// spans and log records, its metric instruments and its span events. The
// core writes them; the exporters and integrations that read spans back
// (exporters/memory, exporters/leaklog, otelguardtest) read them from
// here, so that writer and readers cannot drift apart. Users read the
// same names in the attribute tables of the package documentation.
package attrkey

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Lifetime span attributes.
const (
	Kind            = attribute.Key("otelguard.kind")
	Outcome         = attribute.Key("otelguard.outcome")
	Trigger         = attribute.Key("otelguard.trigger")
	Name            = attribute.Key("otelguard.name")
	CleanupDuration = attribute.Key("otelguard.cleanup.duration_ms")
	CleanupDetached = attribute.Key("otelguard.cleanup.detached")
	LeakReleased    = attribute.Key("otelguard.leak.released")
	HoldExceeded    = attribute.Key("otelguard.hold.exceeded")
	MissedClose     = attribute.Key("otelguard.missed_close")
	// MissedCloseDescription is on log records of a closed_by_context
	// missed close: what ended it (the span has it as its status).
	MissedCloseDescription = attribute.Key("otelguard.missed_close.description")
	MisuseKind             = attribute.Key("otelguard.misuse.kind")
	Repeats                = attribute.Key("otelguard.repeats")
	Age                    = attribute.Key("otelguard.age_ms")
	Finding                = attribute.Key("otelguard.finding")
	ErrorType              = semconv.ErrorTypeKey
	Stacktrace             = semconv.CodeStacktraceKey
)

// Span names and events.
const (
	MisuseSpan        = "otelguard.misuse"
	FindingSpan       = "otelguard.finding"
	EventHoldExceeded = "otelguard.hold.threshold_exceeded"
	EventReturnedLate = "otelguard.hold.returned_late"
	EventOutlived     = "otelguard.request.outlived"
)

// Metric instruments.
const (
	MetricActive           = "otelguard.lifetime.active"
	MetricEnded            = "otelguard.lifetime.ended"
	MetricCleanupDuration  = "otelguard.cleanup.duration"
	MetricLifetimeDuration = "otelguard.lifetime.duration"
	MetricMisuse           = "otelguard.misuse"
	MetricHeldTooLong      = "otelguard.lifetime.held_too_long"
	MetricOutlivedRequest  = "otelguard.lifetime.outlived_request"
	MetricMissedClose      = "otelguard.lifetime.missed_close"
	MetricFindings         = "otelguard.findings"
)
