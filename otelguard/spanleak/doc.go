// Package spanleak finds OpenTelemetry spans that are never ended, in any
// Go program that uses the OpenTelemetry SDK, with one line:
//
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(spanleak.NewProcessor()),
//		sdktrace.WithBatcher(exporter),
//	)
//
// A span started and never ended is never exported: its trace has a hole
// and nothing says so. NewProcessor returns a span processor that watches
// each span it sees start with the garbage collector (runtime.AddCleanup)
// and remembers the stack that started it. When a span that was never
// ended becomes unreachable — the code that started it dropped it, on an
// error path that forgot span.End() — the processor reports it, as
// otelguard reports a leaked lifetime.
//
// # Findings
//
// Reports are otelguard findings, made through a Tracker (WithTracker;
// otelguard.Default() unless given). Each is, at once:
//
//   - a span named otelguard.finding, a root span (a trace of its own) with
//     a link to the span never ended and the attributes below, given at its
//     start so that a sampler sees them (otelguard/sampling.KeepFindings
//     keeps every finding at any head sampling rate);
//   - a count in the Tracker's metric otelguard.findings (attributes
//     otelguard.finding, otelguard.name, otelguard.kind);
//   - a Warn record through the Tracker's logger (otelguard.WithLogger).
//
// The finding span's attributes:
//
//	key                 value
//	otelguard.finding   span_not_ended: found dropped without End;
//	                    open_at_shutdown: open when the processor shut down
//	otelguard.name      the span's name
//	otelguard.kind      span
//	otelguard.age_ms    time since the span started
//	code.stacktrace     the stack that started the span (Go traceback format),
//	                    its first frame the code that called Tracer.Start
//	otel.scope.name     the span's instrumentation scope (the name given to
//	                    TracerProvider.Tracer)
//
// Findings of one call site are rate-limited per the Tracker's
// WithLeakLogInterval (one span and one record per site per interval, the
// rest counted in otelguard.repeats on the next one); the metric counts
// every one.
//
// # When a span is found
//
// At the garbage collection after the span became unreachable, usually
// the next one; the Go runtime collects at least every two minutes,
// unless GOGC=off, even in a process that does not allocate. The report
// follows a second later: the SDK's End stops referencing the span once
// it has taken the snapshot it gives the processors, so a span ended as
// the program's last use of it can be collected while the processors
// registered before this one handle its End; this one's OnEnd then
// cancels the report (tested). Registered first, its OnEnd follows at
// once; behind a processor whose OnEnd takes longer than a second (a
// synchronous export to a slow exporter), a span ended meanwhile can be
// reported.
//
// The report is made on a goroutine of the processor's own, never on the
// runtime's cleanup goroutine, so a slow exporter under the Tracker's
// provider never holds up the runtime's cleanups. A span still reachable
// is open, not dropped: a span stored in a global, or held by a goroutine
// blocked forever, is reported only when the processor shuts down
// (Shutdown, which TracerProvider.Shutdown calls), as open_at_shutdown,
// and a span ended after that is not reported again.
//
// # What keeps spans reachable
//
// Checked against go.opentelemetry.io/otel/sdk v1.47.0 (the tests do it):
// the TracerProvider, its tracers, a parent span, and the SDK's simple and
// batch span processors, registered before or after this one, keep no
// reference to a started span. The SDK gives OnEnd a snapshot, not the
// span itself, so what a batch processor queues does not keep the span
// either. What does keep started spans reachable, and so hides a dropped
// one from the collector (it is then reported open_at_shutdown instead):
//
//   - tracetest.SpanRecorder: it keeps every span it sees start. Use a
//     tracetest.InMemoryExporter (or otelguard's exporters/memory) behind
//     a simple processor instead;
//   - a span processor of your own that keeps the ReadWriteSpan given to
//     its OnStart (a map of open spans, for example);
//   - a context holding the span (the one Tracer.Start returned) that is
//     kept somewhere long-lived.
//
// Spans that are not recording (a sampler's Drop decision) never reach a
// span processor and are not watched; RecordOnly spans are. Spans of
// otelguard's own instrumentation scope (lifetimes, findings) are left to
// otelguard, which ends them itself.
//
// # Order and shutdown
//
// The processor works beside others, in any order. A TracerProvider shuts
// its processors down in the order they were registered: register this
// one before the processor that exports, so that open_at_shutdown findings
// made through a Tracker on the same provider are exported. ForceFlush
// waits for the findings already queued; it neither forces a collection
// nor flushes the Tracker's providers.
//
// # Sampling and cost
//
// By default the first 16 spans of every site (a site: the span's name and
// instrumentation scope) are watched, then one in 128, as
// otelguard.WithLeakSampling does for lifetimes; WithSampling(n) sets n,
// and WithSampling(1) watches every span (otelguardtest.CheckSpans does).
// A watched span costs, on its start, a walk of its start stack
// (runtime.Callers, WithStackDepth frames, 32 by default), one allocation
// holding what the report needs (name, span context, start time, program
// counters — nothing that reaches the span), a runtime cleanup, and an
// entry in a registry striped 64 ways (one stripe's lock); on its end, the
// stripe's lock and the cleanup's Stop. A span not watched costs a hash of
// its name and scope, one atomic add and, at its end, one atomic load.
// Nothing on either path waits for an exporter or takes a lock shared by
// every span. An open watched span holds about 0.6 KiB (measured with a
// 26-frame start stack; less for shallower stacks), plus the runtime's
// cleanup record, until it ends.
//
// Measured on the start and end of a recording span under a batch
// processor (docs/spanleak.md): the default (one in 128 after the first
// 16) costs about 1.07 times the span's own cost; watching every span
// about 1.6 times. Watch every span in tests and staging
// (WithSampling(1)); keep the default in production.
//
// Program counters are symbolized only when a span is reported.
package spanleak
