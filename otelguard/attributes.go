package otelguard

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Attribute keys that otelguard sets on lifetime spans. Every key is
// documented in the attribute table of the package documentation.
const (
	// KindKey is set when a lifetime starts: guard, resource or scope.
	KindKey = attribute.Key("otelguard.kind")
	// OutcomeKey is set exactly once, when a lifetime ends.
	OutcomeKey = attribute.Key("otelguard.outcome")
	// TriggerKey says what ended the lifetime.
	TriggerKey = attribute.Key("otelguard.trigger")
	// CleanupDurationKey is the release's run time in milliseconds
	// (float64), set when a release ran.
	CleanupDurationKey = attribute.Key("otelguard.cleanup.duration_ms")
	// CleanupDetachedKey is true when the release ran on a context
	// detached from an already-done one (context.WithoutCancel plus the
	// cleanup timeout).
	CleanupDetachedKey = attribute.Key("otelguard.cleanup.detached")
	// LeakReleasedKey is true on a leaked_without_close span whose release
	// was run by the library because of ReleaseOnLeak.
	LeakReleasedKey = attribute.Key("otelguard.leak.released")
	// AccessRecordsKey holds the last access points recorded by
	// Resource.Touch (LeakDetectionParanoid), newest last, each as
	// "hint @ function file:line"; set on leaked and open_at_shutdown spans.
	AccessRecordsKey = attribute.Key("otelguard.access_records")
	// HoldExceededKey is true on a lifetime that outlived its hold
	// threshold.
	HoldExceededKey = attribute.Key("otelguard.hold.exceeded")
	// NameKey carries a lifetime's name on records that are not the
	// lifetime's own span (misuse records).
	NameKey = attribute.Key("otelguard.name")
	// MisuseKindKey says what a misuse record is about, for example
	// use_after_close.
	MisuseKindKey = attribute.Key("otelguard.misuse.kind")

	// ErrorTypeKey is the semantic-convention key error.type, set on
	// failed and timed_out lifetimes.
	ErrorTypeKey = semconv.ErrorTypeKey
	// StacktraceKey is the semantic-convention key code.stacktrace: the
	// acquire stack, in the format of a Go traceback.
	StacktraceKey = semconv.CodeStacktraceKey
)

// Kind is what sort of lifetime a span stands for.
type Kind string

// The kinds of lifetime.
const (
	KindGuard    Kind = "guard"
	KindResource Kind = "resource"
	KindScope    Kind = "scope"
)

// Outcome is how a lifetime ended. Every lifetime ends with exactly one.
type Outcome string

// The outcomes.
const (
	// OutcomeCleaned: the release ran and returned nil.
	OutcomeCleaned Outcome = "cleaned"
	// OutcomeDisarmed: Disarm or Detach ended the lifetime; nothing ran.
	OutcomeDisarmed Outcome = "disarmed"
	// OutcomeFailed: the release returned an error or panicked.
	OutcomeFailed Outcome = "failed"
	// OutcomeTimedOut: the release outlived its deadline (it may still be
	// running in the background), or returned context.DeadlineExceeded
	// after its deadline passed.
	OutcomeTimedOut Outcome = "timed_out"
	// OutcomeLeaked: the garbage collector found the handle unreachable
	// before anything ended the lifetime.
	OutcomeLeaked Outcome = "leaked_without_close"
	// OutcomeOpenAtShutdown: Tracker.Shutdown found the lifetime open.
	OutcomeOpenAtShutdown Outcome = "open_at_shutdown"
)

// Trigger is what ended a lifetime.
type Trigger string

// The triggers.
const (
	TriggerClose    Trigger = "close"    // Resource.Close, CloseAsync, Scope.Close
	TriggerDefer    Trigger = "defer"    // Guard.Run outside a panic
	TriggerPanic    Trigger = "panic"    // Guard.Run deferred while a panic unwinds
	TriggerCancel   Trigger = "cancel"   // CloseOnCancel: the acquire context was done
	TriggerScope    Trigger = "scope"    // the owning Scope was closed
	TriggerDisarm   Trigger = "disarm"   // Disarm or Detach
	TriggerGC       Trigger = "gc"       // leak detection
	TriggerShutdown Trigger = "shutdown" // Tracker.Shutdown or Tracker.CloseAll
)

// trigIndex is a Trigger in a byte, where a lifetime keeps one.
type trigIndex uint8

var triggers = [...]Trigger{TriggerClose, TriggerDefer, TriggerPanic, TriggerCancel, TriggerScope, TriggerDisarm, TriggerGC, TriggerShutdown}

func indexOf(t Trigger) trigIndex {
	for i, x := range triggers {
		if x == t {
			return trigIndex(i)
		}
	}
	return 0
}

// Precomputed attributes: building them costs nothing on the hot path.
var (
	errorTypeTimeout  = ErrorTypeKey.String("timeout")
	errorTypePanic    = ErrorTypeKey.String("panic")
	errorTypeGoexit   = ErrorTypeKey.String("goexit")
	errorTypeCanceled = ErrorTypeKey.String("canceled")
)

// kind is the compact form of Kind kept in a lifetime.
type kind uint8

const (
	kGuard kind = iota
	kResource
	kScope
)

var (
	kindNames = [...]Kind{kGuard: KindGuard, kResource: KindResource, kScope: KindScope}
	kindAttrs = [...]attribute.KeyValue{
		kGuard:    KindKey.String(string(KindGuard)),
		kResource: KindKey.String(string(KindResource)),
		kScope:    KindKey.String(string(KindScope)),
	}
)
