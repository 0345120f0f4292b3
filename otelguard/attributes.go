package otelguard

import (
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"go.opentelemetry.io/otel/attribute"
)

// The attribute keys otelguard sets are documented in the package
// documentation's tables (doc.go); they are not exported: a test reads
// them typed through exporters/memory or otelguardtest.

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
	errorTypeTimeout  = attrkey.ErrorType.String("timeout")
	errorTypePanic    = attrkey.ErrorType.String("panic")
	errorTypeGoexit   = attrkey.ErrorType.String("goexit")
	errorTypeAborted  = attrkey.ErrorType.String("panic_or_goexit")
	errorTypeCanceled = attrkey.ErrorType.String("canceled")
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
		kGuard:    attrkey.Kind.String(string(KindGuard)),
		kResource: attrkey.Kind.String(string(KindResource)),
		kScope:    attrkey.Kind.String(string(KindScope)),
	}
)
