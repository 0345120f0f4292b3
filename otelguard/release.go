package otelguard

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
)

// A release runs in one of two places. Close, Run and a Scope's Close run
// it on the calling goroutine, whatever ctx carries: the caller waits for
// it, as it would for a defer. CloseAsync, CloseAll, CloseOnCancel and
// ReleaseOnLeak run it on a goroutine of the library's own, counted in the
// Tracker's inflight so that Flush and Shutdown can wait for it; where the
// caller is bounded by a deadline (CloseAsync, CloseAll) the span ends
// timed_out at the deadline and the release goes on as a straggler.
// Either way the release itself runs through run, below.

// panicked carries a release's panic from where it was recovered to where
// it is decided what to do with it.
type panicked struct {
	value any
	stack []byte
}

// relResult is how one release went.
type relResult struct {
	err    error
	panic  *panicked // recovered: on a goroutine of the library's own
	goexit bool      // the release called runtime.Goexit (library goroutine)
	// aborted: the release did not return, on the caller's goroutine,
	// where nothing is recovered: it panicked (the panic goes on with its
	// own stack) or called runtime.Goexit.
	aborted bool
}

// release is one run of a lifetime's release: who asked, and what to
// record when it returns.
type release struct {
	l       *lifetime
	trig    Trigger
	flights int64 // inflight slots the calling goroutine holds
	// detached is set when ctx is already a detached, bounded context
	// (ReleaseOnLeak's).
	detached bool
	// leak is set for ReleaseOnLeak: the outcome is leaked_without_close
	// whatever the release does, and the span's end was claimed with the
	// release (report says whether by this call).
	leak, report bool
	// recover is set on the library's own goroutines, where a panic must
	// not crash the process: it is recovered and returned in the result.
	// On a caller's goroutine nothing is recovered, so that a panic goes
	// on with the stack of the function that panicked.
	recover bool
}

// run runs the release with ctx on the calling goroutine, then ends the
// span (unless something else ended it first) and finishes the lifetime.
// The caller owns the release. A ctx that is already done is replaced by
// context.WithoutCancel of it, bounded by the cleanup timeout (the
// cancelled task cleaning up).
//
// With r.recover a panic in the release is returned in the result, never
// re-raised here. Without it nothing is recovered: a panic ends the
// lifetime (failed) and goes on to the caller unchanged, its stack naming
// the function that panicked. Either way a runtime.Goexit ends the
// lifetime (failed) and goes on.
func (r release) run(ctx context.Context) (res relResult) {
	l := r.l
	if ctx == nil {
		ctx = context.Background()
	}
	detached := r.detached
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = l.t.detached(ctx)
		defer cancel()
		detached = true
	}
	l.relTrig, l.relFlights = indexOf(r.trig), int16(r.flights)
	l.relCtx = releaseCtx{Context: ctx, l: l}
	timed := l.flags&flRecording != 0 || l.m != nil
	var start time.Time
	if timed {
		start = time.Now()
	}
	returned := false
	defer func() {
		if !returned {
			if !r.recover {
				res.aborted = true // the panic or Goexit goes on after this
			} else if v := recover(); v != nil {
				res.panic = &panicked{value: v, stack: debug.Stack()}
			} else {
				res.goexit = true // nothing after the call runs; record it here
			}
		}
		cleanup := time.Duration(-1)
		if timed {
			cleanup = time.Since(start)
		}
		r.complete(res, cleanup, detached)
	}()
	res.err = l.rel.release(&l.relCtx)
	returned = true
	return res
}

// complete ends the span, if this release is the one to end it, and
// finishes the lifetime. The lifetime is finished even if ending the span
// panics (a synchronous span processor that panics): its release has
// returned, and waiters must not wait for it forever.
func (r release) complete(res relResult, cleanup time.Duration, detached bool) {
	l := r.l
	defer l.finish()
	if r.leak {
		if r.report {
			l.endLeaked(true, cleanup)
		}
		// Here, not after run returns: a release that calls runtime.Goexit
		// returns to nobody, and the leak must still be recorded.
		l.t.recordMissed(l, missedLeak, true)
		return
	}
	if !l.claimReport() {
		return // Shutdown, a leak report or an abandoned deadline ended the span
	}
	l.endReleased(res, r.trig, cleanup, detached)
	if e := l.endOf(); e != nil && e.missed != "" {
		l.logEnd(missedContext, false, true)
		l.finding(findingContext)
		l.t.recordMissed(l, missedContext, false)
	}
}

// err is what the caller of a release gets back: its error, or an error
// for a runtime.Goexit, which no caller sees returned otherwise.
func (res relResult) errFor(l *lifetime) error {
	if (res.goexit || res.aborted) && res.err == nil {
		return errGoexit(l)
	}
	return res.err
}

func errGoexit(l *lifetime) error {
	return fmt.Errorf("otelguard: release of %q called runtime.Goexit", l.name)
}

// reportPanic hands a release's panic on a goroutine of the library's own
// to otel.Handle and returns it as an error; otherwise it returns the
// release's error.
func reportPanic(l *lifetime, res relResult) error {
	if res.panic == nil {
		return res.errFor(l)
	}
	pe := &PanicError{Name: l.name, Value: res.panic.value, Stack: res.panic.stack}
	otel.Handle(pe)
	return pe
}

// background runs the release on a goroutine of the library's own, with
// ctx, bounded by it: if ctx is done before the release returns, the span
// ends then (timed_out at a deadline, failed when cancelled) and the
// release goes on as a straggler that Flush and Shutdown wait for. deliver
// gets exactly one error, by ctx's deadline at the latest: the release's
// (a panic as a *PanicError), or the one abandon gives. A ctx that is
// already done is replaced, as Close replaces it, by context.WithoutCancel
// of it bounded by the cleanup timeout, and that bound is the one kept.
//
// The caller owns the release (claimByLibrary).
func (r release) background(ctx context.Context, deliver func(error)) {
	l := r.l
	t := l.t
	if ctx == nil {
		ctx = context.Background()
	}
	var cancel context.CancelFunc = func() {}
	if ctx.Err() != nil {
		ctx, cancel = t.detached(ctx)
		r.detached = true
	}
	t.flight.add()
	r.flights++
	r.recover = true
	go func() {
		defer t.flight.done()
		defer cancel()
		var handoff atomic.Int32 // 1: the result was delivered; 2: abandoned
		if ctx.Done() != nil {
			start := time.Now()
			stop := context.AfterFunc(ctx, func() {
				if handoff.CompareAndSwap(0, 2) {
					deliver(l.abandon(ctx.Err(), r.trig, time.Since(start)))
				}
			})
			defer stop()
		}
		sent := false
		defer func() {
			if !sent && handoff.CompareAndSwap(0, 1) { // runtime.Goexit
				deliver(errGoexit(l))
			}
		}()
		res := r.run(ctx)
		err := reportPanic(l, res)
		sent = true
		if handoff.CompareAndSwap(0, 1) {
			deliver(err)
		} else if res.panic == nil && res.err != nil {
			otel.Handle(fmt.Errorf("otelguard: release of %q, abandoned at its deadline, returned: %w", l.name, res.err))
		}
	}()
}

// abandon ends the span of a lifetime whose bounded release outlived ctx
// (timed_out at a deadline, failed when cancelled), and returns the error
// its caller gets. ran is how long the release had been running, negative
// if it had not started. The release goes on; when it returns it finishes
// the lifetime and reports nothing more.
func (l *lifetime) abandon(cause error, trig Trigger, ran time.Duration) error {
	err := fmt.Errorf("otelguard: gave up waiting for the release of %q: %w", l.name, cause)
	if l.claimReport() {
		l.endAbandoned(err, trig, ran)
	}
	return err
}
