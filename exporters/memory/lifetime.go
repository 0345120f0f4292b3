package memory

import (
	"strconv"
	"strings"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/lifetimeattr"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// A Lifetime is one ended otelguard lifetime span, decoded. A field whose
// attribute the span does not carry is the zero value.
type Lifetime struct {
	// Name is the span's name: the name given at acquire.
	Name string
	// Kind is otelguard.kind: guard, resource or scope.
	Kind otelguard.Kind
	// Outcome is otelguard.outcome: how the lifetime ended.
	Outcome otelguard.Outcome
	// Trigger is otelguard.trigger: what ended it.
	Trigger otelguard.Trigger
	// Start and End are the span's start and end times.
	Start, End time.Time
	// CleanupDuration is otelguard.cleanup.duration_ms: how long the
	// release ran. Zero when no release ran (disarmed, leaked without
	// ReleaseOnLeak, open_at_shutdown).
	CleanupDuration time.Duration
	// Detached is otelguard.cleanup.detached: the release ran on a context
	// detached from one that was already done.
	Detached bool
	// LeakReleased is otelguard.leak.released: leak detection ran the
	// release (ReleaseOnLeak).
	LeakReleased bool
	// AcquireStack is code.stacktrace: the acquire stack, in the format of
	// a Go traceback, on leaked_without_close and open_at_shutdown
	// lifetimes when the Tracker captures stacks.
	AcquireStack string
	// ErrorType is error.type, on failed and timed_out lifetimes.
	ErrorType string
	// Span is the span as recorded.
	Span tracetest.SpanStub
}

// lifetimeFrom decodes s; ok is false if s is not a lifetime span.
func lifetimeFrom(s tracetest.SpanStub) (Lifetime, bool) {
	f, ok := lifetimeattr.Decode(s.Attributes)
	if !ok {
		return Lifetime{}, false
	}
	return Lifetime{
		Name:            s.Name,
		Kind:            f.Kind,
		Outcome:         f.Outcome,
		Trigger:         f.Trigger,
		Start:           s.StartTime,
		End:             s.EndTime,
		CleanupDuration: f.CleanupDuration,
		Detached:        f.Detached,
		LeakReleased:    f.LeakReleased,
		AcquireStack:    f.Stack,
		ErrorType:       f.ErrorType,
		Span:            s,
	}, true
}

// A Frame is one frame of an acquire stack.
type Frame struct {
	Function string // package-qualified, as in a Go traceback: example.com/pkg.(*T).Open
	File     string // as rendered: trimmed if the Tracker has WithTrimPaths
	Line     int
}

// String returns "function file:line", or "" for the zero Frame.
func (f Frame) String() string {
	if f == (Frame{}) {
		return ""
	}
	return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
}

// AcquireSite returns the code that acquired the lifetime: the first frame
// of AcquireStack, or else, for a Tracker at LeakDetectionParanoid, the
// code.function.name, code.file.path and code.line.number attributes that
// every lifetime span carries there. ok is false when the span carries
// neither.
func (l Lifetime) AcquireSite() (f Frame, ok bool) {
	if f, ok := firstFrame(l.AcquireStack); ok {
		return f, true
	}
	for _, kv := range l.Span.Attributes {
		switch kv.Key {
		case semconv.CodeFunctionNameKey:
			f.Function = kv.Value.AsString()
		case semconv.CodeFilePathKey:
			f.File = kv.Value.AsString()
		case semconv.CodeLineNumberKey:
			f.Line = int(kv.Value.AsInt64())
		}
	}
	return f, f.Function != ""
}

// firstFrame parses the first frame of a stack in the format of a Go
// traceback:
//
//	example.com/pkg.open(...)
//		/src/pkg/open.go:42 +0x1d
func firstFrame(stack string) (Frame, bool) {
	fn, rest, ok := strings.Cut(stack, "\n")
	if !ok || !strings.HasSuffix(fn, ")") {
		return Frame{}, false
	}
	if i := strings.LastIndexByte(fn, '('); i > 0 {
		fn = fn[:i]
	}
	loc, _, _ := strings.Cut(rest, "\n")
	loc = strings.TrimSpace(loc)
	if i := strings.LastIndex(loc, " +0x"); i >= 0 {
		loc = loc[:i]
	}
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return Frame{}, false
	}
	line, err := strconv.Atoi(loc[i+1:])
	if err != nil {
		return Frame{}, false
	}
	return Frame{Function: fn, File: loc[:i], Line: line}, true
}

// A Misuse is one misuse record: a short span named
// attrkey.MisuseSpan, linked to the misused lifetime's span, that
// otelguard records the first time a lifetime is misused (Value after
// Close, Add on a closed Scope, ...).
type Misuse struct {
	// Lifetime is otelguard.name: the misused lifetime's name.
	Lifetime string
	// Kind is otelguard.misuse.kind: use_after_close, use_after_detach,
	// detach_after_close or add_after_close.
	Kind string
	// Stack is code.stacktrace: where the misuse happened.
	Stack string
	// Time is when it happened.
	Time time.Time
	// Span is the span as recorded. Its first link, if any, is the
	// lifetime's span.
	Span tracetest.SpanStub
}

// misuseFrom decodes s; ok is false if s is not a misuse record.
func misuseFrom(s tracetest.SpanStub) (m Misuse, ok bool) {
	if s.Name != attrkey.MisuseSpan {
		return Misuse{}, false
	}
	for _, kv := range s.Attributes {
		switch kv.Key {
		case attrkey.Kind:
			return Misuse{}, false // a lifetime that happens to bear the name
		case attrkey.Name:
			m.Lifetime = kv.Value.AsString()
		case attrkey.MisuseKind:
			m.Kind = kv.Value.AsString()
		case attrkey.Stacktrace:
			m.Stack = kv.Value.AsString()
		}
	}
	m.Time = s.StartTime
	m.Span = s
	return m, true
}
