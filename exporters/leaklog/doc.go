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
// code.stacktrace. Every other span (lifetimes that ended well, misuse
// records, spans that are not otelguard's) is ignored.
//
// The Exporter logs inside ExportSpans, on whatever goroutine the span
// processor calls it from. Keeping that work off the code that ends the
// lifetimes is the span processor's job: with sdktrace.WithBatcher a slow
// log handler delays only the batch, while with sdktrace.WithSyncer it
// runs in every span.End, including Close and Run on the release path.
// Use WithSyncer only with a fast handler or in tests.
package leaklog
