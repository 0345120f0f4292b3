// Package otelguard makes resource cleanup observable. Every acquire and
// release becomes an OpenTelemetry span that ends with exactly one outcome,
// so a tracing backend shows cleanup latency and missed closes, and tests
// can assert on them in memory.
//
// Go's defer is synchronous and silent: nobody learns that a cleanup was
// skipped, slow, or never happened. otelguard wraps the three shapes
// cleanup takes in Go:
//
//   - A Guard is a deferred cleanup that can be disarmed (Rust's Drop guard):
//     `defer g.Run()`, and `g.Disarm()` on the success path.
//   - A Resource is a value with an explicit, possibly slow release: Acquire
//     (or Track for any io.Closer), then Close, CloseAsync or Detach.
//   - A Scope is a stack of cleanups released newest first (Python's
//     ExitStack): Defer, Add, Close, Disarm.
//
// A Tracker starts and ends their spans and knows which lifetimes are still
// open. New makes one; Default is the process-wide one that the
// package-level functions use, following the global providers.
//
// # Spans
//
// One span per lifetime, named by the caller, started at acquire as a child
// of the span in the acquire context, and ended when the lifetime ends: after
// the release returns, or at the deadline (timed_out) while a release that
// ignores its context goes on in the background. Attributes:
//
//	key                            when                     values
//	otelguard.kind                 start                    guard, resource, scope
//	otelguard.outcome              end, exactly once        cleaned, disarmed, failed, timed_out,
//	                                                        leaked_without_close, open_at_shutdown
//	otelguard.trigger              end                      close, defer, panic, cancel, scope,
//	                                                        disarm, gc, shutdown
//	otelguard.cleanup.duration_ms  end, when a release ran  float64
//	otelguard.cleanup.detached     end, release detached    bool
//	otelguard.leak.released        end, ReleaseOnLeak       bool
//	error.type                     failed, timed_out        semconv error type; "timeout", "panic", "goexit"
//	code.stacktrace                leaked, open_at_shutdown the acquire stack, Go traceback format
//
// The status is Error for failed, timed_out and leaked_without_close. The
// happy path records no span events; a release's panic records an exception
// event. Misuse (Value after Close, Add on a closed Scope) is recorded as a
// short span named otelguard.misuse, linked to the lifetime's span; it has
// no otelguard.kind, so it is never mistaken for a lifetime.
//
// # Exactly one outcome
//
// Whatever the interleaving of Close, Run, Disarm, Detach, cancellation,
// garbage collection, Shutdown and CloseAll, a lifetime's outcome is decided
// by one atomic state transition, and its release function runs at most
// once. A repeated or concurrent Close waits for a release in flight
// (bounded by its context) and returns an error wrapping ErrClosed.
//
// # Contexts and deadlines
//
// A release gets the context given to Close (a Guard's cleanup gets the
// context given to NewGuard), carrying the lifetime's span so that spans the
// release starts nest under it. A context that is already done (the
// cancelled task cleaning up) is replaced by context.WithoutCancel of it,
// bounded by the cleanup timeout (WithCleanupTimeout, 10s by default), and
// the span records otelguard.cleanup.detached=true.
//
// Resource.Close and Scope.Close with a context that carries a deadline run
// the release on a goroutine of their own and return by the deadline; the
// release goes on in the background as a straggler and Shutdown waits for
// it. Without a deadline the release runs on the calling goroutine, as
// Guard.Run always does.
//
// # Panics
//
// A panic in a release ends the span failed and goes on to the caller with
// the same value. Guard.Run deferred directly while a panic unwinds records
// trigger panic, runs the cleanup and lets the panic go on. On goroutines of
// the library's own (CloseAsync, CloseOnCancel, ReleaseOnLeak, CloseAll) a
// panic never crashes the process: it becomes a *PanicError, reported
// through otel.Handle and returned where there is a result to return it in.
//
// # Leak detection
//
// With leak detection on (the default, LeakDetectionStacks), every handle
// gets a runtime cleanup (runtime.AddCleanup). The acquire stack is captured
// as program counters (interned, so one call site costs one record) and
// symbolized only when it is reported. When a handle that was never closed,
// run or disarmed becomes unreachable, its span ends leaked_without_close,
// trigger gc, with the acquire stack in code.stacktrace. The report is made
// on a goroutine of the Tracker's own, never on the runtime's cleanup
// goroutine. Detection does not depend on sampling.
//
// The garbage collector decides when a leak is found: usually at the next
// collection after the handle is dropped, never guaranteed before the
// program exits. A value or release function that references its own handle
// keeps the handle reachable and silently disables detection for it.
//
// # Shutdown
//
// Tracker.Shutdown ends every lifetime still open as open_at_shutdown and
// waits for releases on the library's goroutines; Tracker.CloseAll releases
// them instead, newest first. Call either before shutting down the
// TracerProvider.
//
// # Bad input
//
// Programmer errors that cannot mean anything panic at the call site with
// a message starting "otelguard: ": a nil cleanup or release function, a
// nil value given to Track, a nil closer given to Scope.Add, a method
// called on a nil *Tracker. Everything else gets a safe default:
//
//	nil context                      context.Background()
//	empty name                       otelguard.guard, otelguard.resource, otelguard.scope
//	name over MaxNameLength bytes    cut at a UTF-8 boundary, ending in "..."
//	WithTracker(nil)                 ignored: Default()
//	WithCleanupTimeout(d <= 0)       DefaultCleanupTimeout
//	WithStackDepth(n < 0)            DefaultStackDepth; above MaxStackDepth: clamped
//	WithHoldThreshold(d <= 0)        no threshold for that lifetime
//	WithDefaultHoldThreshold(d <= 0) no threshold
//	unknown LeakDetection            LeakDetectionStacks
//	nil Option, nil provider         ignored
//
// A nil *Guard is inert. Attributes given with WithAttributes are subject
// to the TracerProvider's span limits; a rendered stack is bounded in
// frames (MaxStackDepth) and bytes (16 KiB).
//
// # Cost
//
// Nothing on the acquire or release path waits on an exporter or takes a
// lock shared by the whole Tracker: the registry of open lifetimes is
// striped, state changes are atomic. With the noop TracerProvider no span is
// started at all. See docs/PERFORMANCE.md for measurements.
package otelguard
