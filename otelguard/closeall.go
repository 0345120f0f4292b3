package otelguard

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
)

// CloseAll releases every open lifetime, newest first, with trigger
// shutdown, on a goroutine of the library's own, and returns by ctx's
// deadline. Resources and scopes get ctx; a Guard gets its own context,
// as Run would give it, bounded by ctx's deadline if ctx has one; a
// release whose context is done when it starts runs detached, bounded by
// the cleanup timeout.
//
// CloseAll takes each lifetime only when it starts its release, one at a
// time: a lifetime that its owner closes (or that something else
// releases) before CloseAll reaches it is not released again, and its
// owner's Close runs at once instead of waiting for CloseAll.
//
// If ctx is done before every release has returned, CloseAll gives up:
// the release it is running ends timed_out (failed if ctx was cancelled)
// at once and goes on in the background as a straggler (Flush and
// Shutdown wait for it; its error goes to otel.Handle); the lifetimes it
// had not reached stay open, untouched. Then, as Shutdown, it waits for
// the releases on the library's goroutines, bounded by ctx.
//
// It returns every release's error joined with errors.Join, and ctx's
// error if it gave up. A release's panic does not propagate: it is
// reported through otel.Handle and returned as a *PanicError. CloseAll is
// not terminal: it may be called more than once and concurrently; each
// lifetime is released once.
func (t *Tracker) CloseAll(ctx context.Context) error {
	mustTracker(t, "CloseAll")
	if ctx == nil {
		ctx = context.Background()
	}
	ls := t.reg.snapshot()
	j := &closeAllJob{ctx: ctx, done: &event{}, ls: make([]*lifetime, 0, len(ls))}
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].flags&flUntracked == 0 {
			j.ls = append(j.ls, ls[i])
		}
	}
	var errs []error
	if len(j.ls) > 0 {
		t.flight.add()
		go j.run(t)
		for !j.done.isFired() {
			if !j.done.wait(ctx.Done(), false, nil) {
				j.giveUp()
				break
			}
		}
		errs = j.takeErrs()
	}
	if err := t.wait(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// closeAllJob is one CloseAll's releases, run in order on a goroutine of
// the library's own.
type closeAllJob struct {
	ctx  context.Context
	ls   []*lifetime // newest first; each claimed only when its turn comes
	done *event      // fired when the job has stopped

	mu      sync.Mutex
	next    int       // the lifetime to look at next; guarded by mu
	cur     *lifetime // the release running; nil between releases; guarded by mu
	started time.Time // when cur's release started; guarded by mu
	errs    []error
	gaveUp  bool
}

func (j *closeAllJob) run(t *Tracker) {
	defer t.flight.done()
	defer j.done.fire()
	j.runRest()
}

// runRest releases the lifetimes from next on. If a release calls
// runtime.Goexit, the deferred call goes on with the rest while the
// Goexit unwinds.
func (j *closeAllJob) runRest() {
	returned := false
	defer func() {
		if !returned {
			if l := j.finishCurrent(); l != nil {
				j.record(errGoexit(l))
			}
			j.runRest()
		}
	}()
	for {
		l := j.take()
		if l == nil {
			break
		}
		j.release(l)
		j.finishCurrent()
	}
	returned = true
}

// take claims the next lifetime that nothing else has claimed and makes
// it the current one; nil when there is none, or CloseAll gave up.
func (j *closeAllJob) take() *lifetime {
	j.mu.Lock()
	defer j.mu.Unlock()
	for !j.gaveUp && j.next < len(j.ls) {
		l := j.ls[j.next]
		j.next++
		if l.claimByLibrary() {
			j.cur, j.started = l, time.Now()
			return l
		}
	}
	return nil
}

// finishCurrent forgets the current release, which has returned, and
// returns it.
func (j *closeAllJob) finishCurrent() *lifetime {
	j.mu.Lock()
	defer j.mu.Unlock()
	l := j.cur
	j.cur = nil
	return l
}

// release runs one lifetime's release. A Guard's cleanup gets the guard's
// own context, as Run would give it, bounded by CloseAll's deadline.
func (j *closeAllJob) release(l *lifetime) {
	ctx := j.ctx
	if l.kind == kGuard && l.flags&flMember == 0 {
		ctx = l.ctx
		if d, ok := j.ctx.Deadline(); ok && l.ctx.Err() == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(l.ctx, d)
			defer cancel()
		}
	}
	trig := TriggerShutdown
	if l.state.Load()&stLeaked != 0 {
		// Leaked inside a testing/synctest bubble: this is the release
		// ReleaseOnLeak could not run from outside it (see reportLeak).
		// Its handle is garbage; ReleaseTrigger says so.
		trig = TriggerGC
	}
	res := release{l: l, trig: trig, flights: 1, recover: true}.run(ctx)
	if err := reportPanic(l, res); err != nil {
		j.record(err)
	}
}

// record keeps a release's error for CloseAll to return, or, once CloseAll
// has given up, hands it to otel.Handle.
func (j *closeAllJob) record(err error) {
	j.mu.Lock()
	if !j.gaveUp {
		j.errs = append(j.errs, err)
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	var pe *PanicError
	if !errors.As(err, &pe) { // a panic was handed to otel.Handle already
		otel.Handle(err)
	}
}

// giveUp stops the job: the release running ends now and goes on as a
// straggler; nothing more is claimed.
func (j *closeAllJob) giveUp() {
	j.mu.Lock()
	j.gaveUp = true
	cur, started := j.cur, j.started
	j.errs = append(j.errs, j.ctx.Err())
	j.mu.Unlock()
	if cur != nil && !cur.finished() {
		cur.abandon(j.ctx.Err(), TriggerShutdown, time.Since(started))
	}
}

func (j *closeAllJob) takeErrs() []error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.errs
}
