package otelguard

import (
	"context"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Kinds of misuse, the values of otelguard.misuse.kind.
const (
	misuseUseAfterClose    = "use_after_close"
	misuseUseAfterDetach   = "use_after_detach"
	misuseDetachAfterClose = "detach_after_close"
	misuseAddAfterClose    = "add_after_close"
)

// misuse records a misuse of a lifetime: every one is counted
// (otelguard.misuse); the first also records a short span linked to the
// lifetime's span, with the calling stack. skip counts frames between misuse's caller
// and the user's code.
func (l *lifetime) misuse(kind string, skip int) {
	if l.flags&flUntracked != 0 {
		return
	}
	if l.m != nil {
		l.t.meters.recordMisuse(l.m, kind)
	}
	if _, first := l.update(stMisused, stMisused); !first {
		return
	}
	ts := l.t.tracerFor()
	if ts.noop {
		return
	}
	opts := []trace.SpanStartOption{
		trace.WithAttributes(
			attrkey.MisuseKind.String(kind),
			attrkey.Name.String(l.name),
		),
	}
	if l.span != nil {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: l.span.SpanContext()}))
	}
	_, span := ts.tracer.Start(context.Background(), attrkey.MisuseSpan, opts...)
	if span.IsRecording() {
		if st := captureStack(skip+1, maxStackDepth, nil); st != nil {
			span.SetAttributes(attrkey.Stacktrace.String(st.format()))
		}
		span.SetStatus(codes.Error, kind+" of "+l.name)
	}
	span.End()
}
