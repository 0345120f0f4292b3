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
// context goes on in the background. Attributes (the keys are not exported
// constants: read them typed through exporters/memory or otelguardtest,
// or by these names):
//
//	key                            when                     values
//	otelguard.kind                 start                    guard, resource, scope
//	otelguard.outcome              end, exactly once        cleaned, disarmed, failed, timed_out,
//	                                                        leaked_without_close, open_at_shutdown
//	otelguard.trigger              end                      close, defer, panic, cancel, scope,
//	                                                        disarm, gc, shutdown
//	otelguard.missed_close         end, on a missed close   true (see Missed closes)
//	otelguard.cleanup.duration_ms  end, when a release ran  float64
//	otelguard.cleanup.detached     end, release detached    bool
//	otelguard.leak.released        end, on a leak           bool: ReleaseOnLeak ran the release
//	otelguard.hold.exceeded        end, held too long       true
//	error.type                     failed, timed_out        semconv error type; "timeout", "canceled",
//	                                                        "panic", "goexit" (library goroutines),
//	                                                        "panic_or_goexit" (the caller's goroutine)
//	code.stacktrace                on a missed close        the acquire stack, Go traceback format
//
// The status is Error for failed, timed_out and every missed close. The
// happy path records no span events; a panic recovered on a library
// goroutine records an exception event; a hold threshold
// (otelguard.hold.threshold_exceeded, otelguard.hold.returned_late) and a
// request's end (otelguard.request.outlived) record theirs. Misuse (Value
// after Close, Add on a closed Scope) is recorded as a short span named
// otelguard.misuse (otelguard.misuse.kind, otelguard.name), linked to the
// lifetime's span; it has no otelguard.kind, so it is never mistaken for a
// lifetime.
//
// # Missed closes
//
// A missed close is a lifetime its owner never ended: leaked (the handle
// dropped, found by the garbage collector), open at Shutdown, or ended
// because a context ended rather than by its owner — an integration says
// so with MissedClose (guardsql's rows and transactions that database/sql
// closed when their context ended). Not a missed close: CloseOnCancel (the
// owner asked for it), CloseAll, Detach, Disarm. Every missed close has
// otelguard.missed_close=true, status Error with a description, and
// code.stacktrace; it is counted (otelguard.lifetime.missed_close), logged
// through WithLogger, and fails otelguardtest. One search in a tracing
// backend, otelguard.missed_close=true, finds every kind.
//
// # Metrics
//
// Counts do not depend on trace sampling. Every instrument carries
// otelguard.kind and otelguard.name; those recorded when a lifetime ends
// carry otelguard.outcome too.
//
//	instrument                            kind            what
//	otelguard.lifetime.active             UpDownCounter   lifetimes open now
//	otelguard.lifetime.ended              Counter         lifetimes ended, by outcome
//	otelguard.lifetime.missed_close       Counter         missed closes
//	otelguard.lifetime.duration           Histogram (s)   acquire to end
//	otelguard.cleanup.duration            Histogram (s)   release run time
//	otelguard.lifetime.held_too_long      Counter         open past their hold threshold
//	otelguard.lifetime.outlived_request   Counter         open when their Request ended
//	otelguard.misuse                      Counter         misuses, by otelguard.misuse.kind
//
// # Exactly one outcome
//
// Whatever the interleaving of Close, Run, Disarm, Detach, cancellation,
// garbage collection, Shutdown and CloseAll, a lifetime's outcome is decided
// by one atomic state transition, and its release function runs at most
// once. Claimed means running: whoever wins a lifetime's release runs it
// now, on its own goroutine; nothing claims a release it will run later. A
// repeated or concurrent Close, and a Scope's Close reaching a member
// released elsewhere, waits for the release in flight (bounded by its
// context); a Close returns an error wrapping ErrClosed.
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
// on to the caller unchanged: nothing recovers it, so the crash names the
// function that panicked, not otelguard.
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
// deadline, always; the release CloseAll runs when it gives up ends
// timed_out and goes on, and what it had not reached stays open. CloseAll
// claims each lifetime only when it starts its release, so an owner that
// closes a lifetime meanwhile runs that release itself, at once. They wait
// only for work on the library's own goroutines, never for a Close
// running on a caller's goroutine.
//
// # Panics and runtime.Goexit
//
// Guard.Run deferred directly while a panic unwinds records trigger panic,
// runs the cleanup and lets the panic go on. On the caller's goroutine
// (Close, Run, Scope.Close) a release's panic is observed, not recovered:
// the lifetime ends failed and the panic goes on with its own stack. On
// goroutines of the library's own (CloseAsync, CloseOnCancel,
// ReleaseOnLeak, CloseAll) a panic never
// crashes the process: it becomes a *PanicError, reported through
// otel.Handle and returned where there is a result to return it in. A
// release that calls runtime.Goexit (t.FailNow in a test cleanup) ends its
// lifetime failed; a Scope still releases its older members, CloseAll the
// rest, and a ReleaseOnLeak release that Goexits is still recorded as a
// leak.
//
// # Leak detection
//
// With leak detection on (the default; WithLeakSampling(-1) turns it off),
// every handle gets a runtime cleanup (runtime.AddCleanup). The acquire stack is captured
// as program counters (interned, so one call site costs one record) and
// symbolized only when it is reported. When a handle that was never closed,
// run or disarmed becomes unreachable, its span ends leaked_without_close,
// trigger gc, with the acquire stack in code.stacktrace. The report is made
// on a goroutine of the Tracker's own, never on the runtime's cleanup
// goroutine. Detection does not depend on sampling, and nothing is lost
// because the program dropped a reference: a Tracker lives from New until
// Shutdown, as a TracerProvider does, and after Shutdown the lifetimes it
// watches keep their leak detection and ReleaseOnLeak still runs. A
// Tracker never shut down lives as long as the process: shut down what you
// create (otelguardtest does it for tests).
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
// WithLogger is where every missed close reaches a person, sampled or not:
// a Warn record per leaked_without_close, open_at_shutdown or
// closed_by_context lifetime, with its acquire stack, at most one per call
// site per WithLeakLogInterval (the rest counted into a summary). The
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
// # Bad input and bounds
//
// Programmer errors that cannot mean anything panic at the call site with
// a message starting "otelguard: ": a nil cleanup or release function, a
// nil value given to Track, a nil closer given to Scope.Add, Defer or Add
// on a nil *Scope, a method called on a nil *Tracker. Every duration and
// count option follows one rule: zero selects the default, a negative
// value turns the thing off. Everything else gets a safe default:
//
//	nil context                   context.Background()
//	empty name                    otelguard.guard, otelguard.resource, otelguard.scope
//	name over 256 bytes           cut at a UTF-8 boundary, ending in "..."
//	WithTracker(nil), nil Option  ignored; a nil provider: the global one
//	ContextWithTracker(ctx, nil)  ctx, unchanged
//	WithCallerSkip(n < 0)         0
//
//	option                     default        negative
//	WithCleanupTimeout         10s            unbounded detached releases
//	WithStackDepth             32 (max 128)   no acquire stacks
//	WithLeakSampling           every lifetime leak detection off
//	WithLeakCheckInterval      1 minute       no forced collections
//	WithLeakLogInterval        1 minute       no per-site limit: every record
//	WithDefaultHoldThreshold   none           none
//	WithHoldThreshold          the Tracker's  none for that lifetime
//
// Every table the library keeps has a bound and keeps its promise past it:
// at most 64 attributes from WithAttributes per lifetime (the first kept);
// rendered stacks of at most 128 frames and 16 KiB; 8192 interned acquire
// stacks (past that a stack is kept unshared); leak sampling counts 4096
// call sites apart at once (a site past that takes the slot of an older
// one, which starts counting again from zero if it returns: watched more,
// never less); the leak log and findings limit 4096 sites apart at once
// (past that sites share a limit: their records are folded and counted in
// otelguard.repeats, never dropped); the metric attribute cache holds 1024
// names (past that, sets are built per record); Tracker keeps the last 256
// missed closes for otelguardtest. A nil *Guard, *Resource or *Scope is
// inert (Close returns ErrClosed, Run nil, Disarm false, Name "").
//
// # Cost
//
// Nothing on the acquire or release path waits on an exporter or takes a
// lock shared by the whole Tracker: the registry of open lifetimes is
// striped, state changes are atomic. With the noop TracerProvider no span is
// started at all. See docs/PERFORMANCE.md for measurements.
package otelguard
