// Package memory is an in-memory span exporter with typed reads over the
// spans otelguard records: a test asks for the lifetimes that leaked, or
// failed, or ran their release on a detached context, instead of parsing
// span attributes by hand.
//
// An Exporter is an sdktrace.SpanExporter built on
// tracetest.InMemoryExporter. Register it with a TracerProvider, usually
// through sdktrace.WithSyncer so that a span can be read as soon as it has
// ended:
//
//	exp := memory.New()
//	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
//	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
//	openReport(tracker) // code under test that drops a handle
//	_ = otelguardtest.Find(tracker)
//	for _, l := range exp.Leaks() {
//		site, _ := l.AcquireSite()
//		fmt.Println(l.Name, "leaked, acquired at", site.Function)
//	}
//
// A Lifetime is one ended lifetime span (a span with the otelguard.kind
// attribute) with its attributes decoded. Spans that are not lifetimes stay
// out of Lifetimes: misuse records are read with Misuses, and every span,
// whatever it is, with Spans.
//
// A lifetime that is still open has no ended span, so it is in none of
// these reads; Tracker.Live lists those. Tracker.Shutdown ends them as
// open_at_shutdown, after which they are read here like any other.
//
// Unlike tracetest.InMemoryExporter, Shutdown keeps the records: a test can
// shut its TracerProvider down and read what was exported afterwards.
//
// otelguardtest.NewTracker builds a Tracker recording into an Exporter of
// its own and checks at the end of the test that nothing leaked.
package memory
