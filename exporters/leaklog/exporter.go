package leaklog

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/internal/lifetimeattr"
	"github.com/otelguard/otelguard-go/internal/stacklog"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// An Exporter logs the lifetimes that ended badly as Warn records. Create
// one with New. Its methods are safe for concurrent use.
type Exporter struct {
	logger   *slog.Logger // nil: slog.Default() at each export
	shutdown atomic.Bool
}

// New returns an Exporter that logs to logger. A nil logger means
// slog.Default(), looked up at each export, so a default logger set later
// with slog.SetDefault is followed.
func New(logger *slog.Logger) *Exporter {
	return &Exporter{logger: logger}
}

// MessagePrefix is the start of every record's message; the outcome follows.
const MessagePrefix = "otelguard: lifetime "

// ExportSpans logs one Warn record for each span in spans that is an
// otelguard lifetime ending leaked_without_close, failed, timed_out or
// open_at_shutdown, in order, and ignores the others. It returns ctx's
// error, having logged only part of spans, if ctx is done before it has
// finished, and the errors of the log handler joined with errors.Join.
// After Shutdown it does nothing and returns nil.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.shutdown.Load() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	logger := e.logger
	if logger == nil {
		logger = slog.Default()
	}
	h := logger.Handler()
	if !h.Enabled(ctx, slog.LevelWarn) {
		return nil
	}
	var errs []error
	for _, s := range spans {
		r, ok := record(s)
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := h.Handle(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Shutdown makes later calls of ExportSpans do nothing. It returns nil;
// it may be called more than once.
func (e *Exporter) Shutdown(context.Context) error {
	e.shutdown.Store(true)
	return nil
}

// record makes the Warn record of s, if s is a lifetime that ended badly.
func record(s sdktrace.ReadOnlySpan) (slog.Record, bool) {
	f, ok := lifetimeattr.Decode(s.Attributes())
	if !ok {
		return slog.Record{}, false
	}
	switch f.Outcome {
	case otelguard.OutcomeLeaked, otelguard.OutcomeFailed, otelguard.OutcomeTimedOut, otelguard.OutcomeOpenAtShutdown:
	default:
		return slog.Record{}, false
	}
	r := slog.NewRecord(s.EndTime(), slog.LevelWarn, MessagePrefix+string(f.Outcome), 0)
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs,
		slog.String(string(attrkey.Name), s.Name()),
		slog.String(string(attrkey.Kind), string(f.Kind)),
		slog.String(string(attrkey.Outcome), string(f.Outcome)),
		slog.String(string(attrkey.Trigger), string(f.Trigger)),
	)
	if f.ErrorType != "" {
		attrs = append(attrs, slog.String(string(attrkey.ErrorType), f.ErrorType))
	}
	if f.LeakReleased {
		attrs = append(attrs, slog.Bool(string(attrkey.LeakReleased), true))
	}
	if f.Stack != "" {
		attrs = append(attrs, stacklog.Attr(string(attrkey.Stacktrace), f.Stack))
	}
	r.AddAttrs(attrs...)
	return r, true
}
