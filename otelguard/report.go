package otelguard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Ending a lifetime's span. Each function here is called by the one
// caller that claimed the report (stReported): it records the outcome in
// the metrics, whatever the sampling, and on the span when it records.

const leakStatus = "handle became unreachable without Close, Run or Disarm"

// endReleased ends the span of a lifetime whose release returned: the
// outcome follows what it returned.
//
//	nil                                     cleaned
//	an error wrapping context.DeadlineExceeded  timed_out, error.type=timeout
//	any other error (context.Canceled too)  failed, error.type of the error
//	a panic or runtime.Goexit               failed, error.type=panic or goexit
//	(on a caller's goroutine, where nothing is recovered: aborted)
//
// What the release said with SetEndAttributes and MissedClose is added.
func (l *lifetime) endReleased(res relResult, trig Trigger, cleanup time.Duration, detached bool) {
	rec := l.flags&flRecording != 0
	var buf [8]attribute.KeyValue
	attrs := buf[:0]
	outcome := OutcomeCleaned
	var msg string
	switch {
	case res.panic != nil:
		outcome = OutcomeFailed
		attrs = append(attrs, errorTypePanic)
		msg = fmt.Sprintf("release panicked: %v", res.panic.value)
		if rec {
			l.span.AddEvent("exception", trace.WithAttributes(
				semconv.ExceptionType(fmt.Sprintf("%T", res.panic.value)),
				semconv.ExceptionMessage(fmt.Sprint(res.panic.value)),
				semconv.ExceptionStacktrace(string(res.panic.stack)),
			))
		}
	case res.goexit:
		outcome = OutcomeFailed
		attrs = append(attrs, errorTypeGoexit)
		msg = "release called runtime.Goexit"
	case res.aborted:
		outcome = OutcomeFailed
		attrs = append(attrs, errorTypeAborted)
		msg = "release did not return: it panicked (the panic went on to the caller) or called runtime.Goexit"
	case res.err != nil:
		outcome = OutcomeFailed
		if errors.Is(res.err, context.DeadlineExceeded) {
			outcome = OutcomeTimedOut
		}
		if rec {
			attrs = append(attrs, errorType(res.err))
			msg = res.err.Error()
		}
	}
	if rec && cleanup >= 0 {
		attrs = append(attrs, attrkey.CleanupDuration.Float64(float64(cleanup)/float64(time.Millisecond)))
	}
	if detached {
		attrs = append(attrs, attrkey.CleanupDetached.Bool(true))
	}
	missed := ""
	if e := l.endOf(); e != nil {
		missed = e.missed
		if rec {
			attrs = append(attrs, e.attrs...)
		}
	}
	l.conclude(outcome, trig, msg, attrs, cleanup, missed)
}

// endAbandoned ends the span of a lifetime whose bounded release outlived
// its caller's context: timed_out at a deadline, failed when cancelled.
// otelguard.cleanup.duration_ms is how long the release had run by then,
// when it had started; the cleanup duration histogram records only
// releases that returned.
func (l *lifetime) endAbandoned(err error, trig Trigger, ran time.Duration) {
	outcome := OutcomeFailed
	if errors.Is(err, context.DeadlineExceeded) {
		outcome = OutcomeTimedOut
	}
	var attrs []attribute.KeyValue
	if l.flags&flRecording != 0 {
		attrs = []attribute.KeyValue{errorType(err)}
		if ran >= 0 {
			attrs = append(attrs, attrkey.CleanupDuration.Float64(float64(ran)/float64(time.Millisecond)))
		}
	}
	l.conclude(outcome, trig, err.Error(), attrs, -1, "")
}

// endLeaked ends the span of a lifetime whose handle was found
// unreachable; released tells whether ReleaseOnLeak ran its release.
func (l *lifetime) endLeaked(released bool, cleanup time.Duration) {
	var buf [5]attribute.KeyValue
	attrs := append(buf[:0], attrkey.LeakReleased.Bool(released))
	if released {
		// ReleaseOnLeak's release runs detached from the acquire context.
		attrs = append(attrs, attrkey.CleanupDetached.Bool(true))
	}
	if l.flags&flRecording != 0 && released && cleanup >= 0 {
		attrs = append(attrs, attrkey.CleanupDuration.Float64(float64(cleanup)/float64(time.Millisecond)))
	}
	l.conclude(OutcomeLeaked, TriggerGC, leakStatus, attrs, cleanup, leakStatus)
	l.logEnd(missedLeak, released, true)
}

// shutdownStatus describes an open_at_shutdown missed close.
const shutdownStatus = "still open at Tracker.Shutdown: its owner never closed it"

// endSpan ends a lifetime whose release did not run: disarmed, or open at
// shutdown.
func (l *lifetime) endSpan(o Outcome, trig Trigger) {
	if o != OutcomeOpenAtShutdown {
		l.conclude(o, trig, "", nil, -1, "")
		return
	}
	l.conclude(o, trig, shutdownStatus, nil, -1, shutdownStatus)
	l.logEnd(missedShutdown, false, false)
}

// conclude records the end of a lifetime whose outcome this caller owns:
// metrics (whatever the sampling), the hold threshold's return, and the
// span's end attributes, status and end. cleanup is the release's run
// time, or negative when no release ran. missed, when not empty, makes
// the end a missed close described by it: otelguard.missed_close=true,
// status Error, the acquire stack, the missed-close counter.
func (l *lifetime) conclude(o Outcome, trig Trigger, statusMsg string, attrs []attribute.KeyValue, cleanup time.Duration, missed string) {
	l.stopHold()
	if l.m != nil {
		age, ok := l.age()
		if !ok {
			age = -1
		}
		ctx := l.ctx
		if o != OutcomeCleaned && o != OutcomeDisarmed || missed != "" {
			// The lifetime's own span in ctx, so that the exemplar of a
			// leak (or a failure) points at it; the happy path keeps the
			// acquire context's, without allocating.
			ctx = l.spanContext(ctx)
		}
		l.t.meters.recordEnd(ctx, l.m, o, age, cleanup)
		if missed != "" {
			l.t.meters.recordMissed(ctx, l.m)
		}
	}
	held := l.state.Load()&stHeld != 0
	if held {
		l.holdReturned(o)
	}
	if l.span == nil {
		return
	}
	if l.flags&flRecording == 0 {
		l.span.End()
		return
	}
	if held {
		attrs = append(attrs, attrkey.HoldExceeded.Bool(true))
	}
	if missed != "" {
		attrs = append(attrs, attrkey.MissedClose.Bool(true))
		if l.stack != nil {
			attrs = append(attrs, attrkey.Stacktrace.String(l.stackText()))
		}
		if statusMsg == "" {
			statusMsg = missed
		} else if statusMsg != missed {
			statusMsg = missed + "; " + statusMsg
		}
	}
	l.endSpanWith(o, trig, statusMsg, attrs, missed != "")
}

// endSpanWith sets the end attributes in one call (one allocation) and
// ends the span. extra is copied.
func (l *lifetime) endSpanWith(o Outcome, trig Trigger, statusMsg string, extra []attribute.KeyValue, missed bool) {
	attrs := make([]attribute.KeyValue, 2, 2+len(extra))
	attrs[0] = attrkey.Outcome.String(string(o))
	attrs[1] = attrkey.Trigger.String(string(trig))
	attrs = append(attrs, extra...)
	l.span.SetAttributes(attrs...)
	switch {
	case missed, o == OutcomeFailed, o == OutcomeTimedOut, o == OutcomeLeaked:
		l.span.SetStatus(codes.Error, statusMsg)
	}
	l.span.End()
}

// errorType is error.type for err: timeout for a deadline, canceled for a
// cancellation, else the semantic-convention type of err (for an
// errors.Join, of its first error, which is what a reader of the trace
// wants to see).
func errorType(err error) attribute.KeyValue {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errorTypeTimeout
	case errors.Is(err, context.Canceled):
		return errorTypeCanceled
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if es := j.Unwrap(); len(es) > 0 && es[0] != nil {
			return errorType(es[0])
		}
	}
	return semconv.ErrorType(err)
}
