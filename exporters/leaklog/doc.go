// Package leaklog turns otelguard lifetimes that ended badly into log/slog
// warnings, for programs with no tracing backend: the "log a warning if
// close() was never called" of otelguard's origin.
//
// An Exporter is an sdktrace.SpanExporter. Every lifetime span that ends
// leaked_without_close, failed, timed_out or open_at_shutdown becomes one
// Warn record, with the lifetime's name, kind, outcome and trigger, its
// error type when it has one, and the acquire stack when the Tracker
// captured it:
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(leaklog.New(logger)))
//	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
//
// The record's message is "otelguard: lifetime " followed by the outcome,
// and its time is the span's end. Its attributes use the span's attribute
// keys: otelguard.name, otelguard.kind, otelguard.outcome,
// otelguard.trigger, error.type, otelguard.leak.released and
// code.stacktrace. The stack is a group with one attribute per frame, each
// "function file:line", so that a person can read it in a text log as
// well as a JSON one:
//
//	code.stacktrace.0="main.openReport /src/app/report.go:12" code.stacktrace.1="main.main /src/app/main.go:30"
//	"code.stacktrace":{"0":"main.openReport /src/app/report.go:12","1":"main.main /src/app/main.go:30"}
//
// The Tracker's own logger (otelguard.WithLogger) logs stacks the same way.
// Every other span (lifetimes that ended well, misuse records, spans that
// are not otelguard's) is ignored.
//
// The Exporter logs inside ExportSpans, on whatever goroutine the span
// processor calls it from. Keeping that work off the code that ends the
// lifetimes is the span processor's job: with sdktrace.WithBatcher a slow
// log handler delays only the batch, while with sdktrace.WithSyncer it
// runs in every span.End, including Close and Run on the release path.
// Use WithSyncer only with a fast handler or in tests.
package leaklog
