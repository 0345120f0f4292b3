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
// open. New makes one; Default is the process-wide one. The package-level
// functions (Acquire, Track, NewGuard, NewScope) use the Tracker given
// with WithTracker, else the one their context carries (ContextWithTracker),
// else Default().
//
// # Spans
//
// One span per lifetime, named by the caller, started at acquire as a child
// of the span in the acquire context, and ended when the lifetime ends:
// after the release returns, or — for CloseAsync and CloseAll only — at
// their context's deadline (timed_out) while a release that ignores its
// context goes on in the background. Attributes:
//
//	key                            when                     values
//	otelguard.kind                 start                    guard, resource, scope
//	otelguard.outcome              end, exactly once        cleaned, disarmed, failed, timed_out,
//	                                                        leaked_without_close, open_at_shutdown
//	otelguard.trigger              end                      close, defer, panic, cancel, scope,
//	                                                        disarm, gc, shutdown
//	otelguard.cleanup.duration_ms  end, when a release ran  float64
//	otelguard.cleanup.detached     end, release detached    bool
//	otelguard.leak.released        end, on a leak           bool: ReleaseOnLeak ran the release
//	error.type                     failed, timed_out        semconv error type; "timeout", "canceled",
//	                                                        "panic", "goexit"
//	code.stacktrace                leaked, open_at_shutdown the acquire stack, Go traceback format
//
// The status is Error for failed, timed_out and leaked_without_close. The
// happy path records no span events; a release's panic records an exception
// event, a hold threshold and a request's end record theirs. Misuse (Value
// after Close, Add on a closed Scope) is recorded as a short span named
// otelguard.misuse, linked to the lifetime's span; it has no
// otelguard.kind, so it is never mistaken for a lifetime.
//
// # Exactly one outcome
//
// Whatever the interleaving of Close, Run, Disarm, Detach, cancellation,
// garbage collection, Shutdown and CloseAll, a lifetime's outcome is decided
// by one atomic state transition, and its release function runs at most
// once. A repeated or concurrent Close waits for a release in flight
// (bounded by its context) and returns an error wrapping ErrClosed.
//
// # Close runs where it is called
//
// Resource.Close, Scope.Close and Guard.Run run the release on the calling
// goroutine, whatever the context carries: no goroutine, and no extra
// allocation for a context with a deadline (a request's context is the
// common case). The release gets the context (a Guard's cleanup gets the
// one given to NewGuard), carrying the lifetime's span so that spans the
// release starts nest under it, and is expected to honour it. The outcome
// follows what the release returns: nil is cleaned; an error wrapping
// context.DeadlineExceeded is timed_out (error.type timeout); any other
// error, context.Canceled included, is failed; a panic is failed and goes
// on to the caller with its value and stack.
//
// A context that is already done (the cancelled task cleaning up) is
// replaced by context.WithoutCancel of it, bounded by the cleanup timeout
// (WithCleanupTimeout, 10s by default), and the span records
// otelguard.cleanup.detached=true.
//
// # Bounded release, where it is asked for
//
// CloseAsync runs the release on a goroutine of the library's own and gives
// its result on a channel, by the context's deadline at the latest: if the
// release outlives it, the span ends timed_out then and the release goes on
// as a straggler. CloseAll, Flush and Shutdown return by their context's
// deadline, always; what CloseAll took on and has not finished by then
// ends timed_out and goes on. They wait only for work on the library's own
// goroutines, never for a Close running on a caller's goroutine.
//
// # Panics and runtime.Goexit
//
// Guard.Run deferred directly while a panic unwinds records trigger panic,
// runs the cleanup and lets the panic go on. On goroutines of the library's
// own (CloseAsync, CloseOnCancel, ReleaseOnLeak, CloseAll) a panic never
// crashes the process: it becomes a *PanicError, reported through
// otel.Handle and returned where there is a result to return it in. A
// release that calls runtime.Goexit (t.FailNow in a test cleanup) ends its
// lifetime failed; a Scope still releases its older members, and CloseAll
// the rest of what it took on.
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
// goroutine. Detection does not depend on sampling, and nothing is lost
// because the program dropped its Tracker: a Tracker with open lifetimes
// under leak detection stays alive until they end or it is shut down.
//
// The garbage collector decides when a leak is found: usually at the next
// collection after the handle is dropped. A process that does not allocate
// may not collect at all; WithLeakCheckInterval (a minute by default) runs
// a collection while lifetimes are open and none has run for the interval.
// A value or release function that references its own handle keeps the
// handle reachable and silently disables detection for it. CloseOnCancel
// with a context that can be done hands the release to the context: such a
// handle is not watched, and dropping it is not a leak. WithLeakSampling
// watches the first lifetimes of each call site and one in n after.
//
// # Requests
//
// ContextWithRequest marks a unit of work — an HTTP request, a job — whose
// lifetimes should end with it: Request.End reports, at once and without a
// collection, each lifetime acquired under it that is still open.
// integrations/guardhttp does it for every HTTP request.
//
// # In production
//
// WithLogger is where every leak reaches a person, sampled or not: a Warn
// record per leaked_without_close or open_at_shutdown lifetime, with its
// acquire stack, at most one per call site per WithLeakLogInterval. The
// metrics count every lifetime by outcome, whatever the sampling.
//
// # testing/synctest
//
// Lifetimes acquired inside a testing/synctest bubble use the bubble's fake
// clock, and the library never touches a bubble's channels or timers from
// outside it: a leak in a bubble is reported like any other.
// ReleaseOnLeak does not run the release of a lifetime acquired in a bubble
// (the runtime runs leak cleanups outside every bubble, and a release that
// touches the bubble from there is a fatal error): the lifetime is reported
// leaked and left open for CloseAll, called inside the bubble, to release.
//
// # Shutdown
//
// Tracker.Shutdown ends every lifetime still open as open_at_shutdown and
// waits for releases on the library's goroutines; it is terminal, as a
// provider's Shutdown: later acquires work but are not tracked.
// Tracker.CloseAll releases what is open instead, newest first, and is not
// terminal. Call either before shutting down the TracerProvider.
//
// # Bad input
//
// Programmer errors that cannot mean anything panic at the call site with
// a message starting "otelguard: ": a nil cleanup or release function, a
// nil value given to Track, a nil closer given to Scope.Add, Defer or Add
// on a nil *Scope, a method called on a nil *Tracker. Everything else gets
// a safe default:
//
//	nil context                      context.Background()
//	empty name                       otelguard.guard, otelguard.resource, otelguard.scope
//	name over MaxNameLength bytes    cut at a UTF-8 boundary, ending in "..."
//	WithTracker(nil)                 ignored
//	ContextWithTracker(ctx, nil)     ctx, unchanged
//	WithCleanupTimeout(d <= 0)       DefaultCleanupTimeout
//	WithStackDepth(n < 0)            DefaultStackDepth; above MaxStackDepth: clamped
//	WithHoldThreshold(d <= 0)        no threshold for that lifetime
//	WithDefaultHoldThreshold(d <= 0) no threshold
//	WithLeakCheckInterval(d < 0)     no check; 0: DefaultLeakCheckInterval
//	WithLeakSampling(n <= 1)         every lifetime watched
//	WithCallerSkip(n < 0)            0
//	unknown LeakDetection            LeakDetectionStacks
//	nil Option, nil provider         ignored
//
// A nil *Guard, *Resource or *Scope is inert (Close returns ErrClosed, Run
// nil, Disarm false, Name ""). Attributes given with WithAttributes are
// subject to the TracerProvider's span limits; a rendered stack is bounded
// in frames (MaxStackDepth) and bytes (16 KiB).
//
// # Cost
//
// Nothing on the acquire or release path waits on an exporter or takes a
// lock shared by the whole Tracker: the registry of open lifetimes is
// striped, state changes are atomic. With the noop TracerProvider no span is
// started at all. See docs/PERFORMANCE.md for measurements.
package otelguard
