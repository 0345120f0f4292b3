package otelguard

import (
	"context"
	"log/slog"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/stacklog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// onHoldExceeded runs on the timer's goroutine when a lifetime with a hold
// threshold is still open after it.
func (l *lifetime) onHoldExceeded() {
	if _, ok := l.update(stHeld, stClaimed|stReported|stHeld); !ok {
		return // ended (or being released) in time
	}
	age, _ := l.age()
	if l.flags&flRecording != 0 {
		var attrs []attribute.KeyValue
		if l.stack != nil {
			attrs = append(attrs, attrkey.Stacktrace.String(l.stackText()))
		}
		l.span.AddEvent(attrkey.EventHoldExceeded, trace.WithAttributes(attrs...))
	}
	if l.m != nil {
		l.t.meters.recordHeld(l.m)
	}
	if lg := l.t.cfg.logger; lg != nil {
		lg.LogAttrs(context.Background(), slog.LevelWarn, "otelguard: lifetime held too long",
			slog.String("otelguard.name", l.name),
			slog.String("otelguard.kind", string(kindNames[l.kind])),
			slog.Duration("held", age),
			stacklog.Attr(string(attrkey.Stacktrace), l.stackText()))
	}
}

// holdReturned reports a held-too-long lifetime that finally ended.
func (l *lifetime) holdReturned(o Outcome) {
	returned := o == OutcomeCleaned || o == OutcomeFailed || o == OutcomeTimedOut || o == OutcomeDisarmed
	if !returned {
		return
	}
	if l.flags&flRecording != 0 {
		l.span.AddEvent(attrkey.EventReturnedLate)
	}
	if lg := l.t.cfg.logger; lg != nil {
		age, _ := l.age()
		lg.LogAttrs(context.Background(), slog.LevelInfo, "otelguard: previously reported lifetime came back",
			slog.String("otelguard.name", l.name),
			slog.String("otelguard.kind", string(kindNames[l.kind])),
			slog.String("otelguard.outcome", string(o)),
			slog.Duration("held", age))
	}
}
