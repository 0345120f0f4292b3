package otelguard_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

type conn struct {
	closed atomic.Int32
	err    error
}

func (c *conn) Close() error { c.closed.Add(1); return c.err }

func TestTrackCloseCleans(t *testing.T) {
	h := newHarness(t)
	c := &conn{}
	r := otelguard.Track(context.Background(), "db.conn", c, otelguard.WithTracker(h.tr))
	if r.Value() != c {
		t.Fatal("Value is not the tracked value")
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if n := c.closed.Load(); n != 1 {
		t.Fatalf("Close ran %d times", n)
	}
	a := wantEnd(t, h.one(t, "db.conn"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	if a[attrkey.Kind].AsString() != "resource" {
		t.Errorf("kind = %v", a[attrkey.Kind])
	}
	// defer Close after Close is normal Go: no misuse record.
	if n := len(h.ended(attrkey.MisuseSpan)); n != 0 {
		t.Errorf("repeated Close recorded %d misuse spans", n)
	}
}

func TestAcquireWithAttributes(t *testing.T) {
	h := newHarness(t)
	r := otelguard.Acquire(context.Background(), "file", "secret-value", func(context.Context, string) error { return nil },
		otelguard.WithTracker(h.tr), otelguard.WithAttributes(otelguardAttr("db.system", "postgresql")))
	_ = r.Close(context.Background())
	s := h.one(t, "file")
	a := attrs(s)
	if a["db.system"].AsString() != "postgresql" || a[attrkey.Kind].AsString() != "resource" {
		t.Errorf("attributes = %v", s.Attributes())
	}
	for _, kv := range s.Attributes() {
		if kv.Value.String() == "secret-value" {
			t.Errorf("the guarded value was rendered into %s", kv.Key)
		}
	}
}

func TestCloseFailsWithErrorType(t *testing.T) {
	h := newHarness(t)
	c := &conn{err: io.ErrUnexpectedEOF}
	r := otelguard.Track(context.Background(), "c", c, otelguard.WithTracker(h.tr))
	if err := r.Close(context.Background()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	s := h.one(t, "c")
	a := wantEnd(t, s, otelguard.OutcomeFailed, otelguard.TriggerClose)
	if a[attrkey.ErrorType].AsString() != "*errors.errorString" || s.Status().Code != codes.Error {
		t.Errorf("error.type = %v, status %v", a[attrkey.ErrorType], s.Status())
	}
}

func TestCloseReleaseSpansNestUnderLifetime(t *testing.T) {
	h := newHarness(t)
	tracer := h.tp.Tracer("test")
	r := otelguard.Acquire(context.Background(), "conn", 1, func(ctx context.Context, _ int) error {
		_, s := tracer.Start(ctx, "conn.close")
		s.End()
		return nil
	}, otelguard.WithTracker(h.tr))
	_ = r.Close(context.Background())
	life, inner := h.one(t, "conn"), h.one(t, "conn.close")
	if inner.Parent().SpanID() != life.SpanContext().SpanID() {
		t.Errorf("release span parent %v, want the lifetime span", inner.Parent().SpanID())
	}
}

func TestConcurrentCloseRunsReleaseOnceAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		unblock := make(chan struct{})
		var runs atomic.Int32
		r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error {
			runs.Add(1)
			<-unblock
			return nil
		}, otelguard.WithTracker(h.tr))

		first := make(chan error, 1)
		go func() { first <- r.Close(context.Background()) }()
		synctest.Wait() // the release is running and blocked

		const n = 8
		results := make(chan error, n)
		for range n {
			go func() { results <- r.Close(context.Background()) }()
		}
		synctest.Wait()
		if len(results) != 0 || len(first) != 0 {
			t.Fatal("a Close returned while the release was still in flight")
		}
		close(unblock)
		if err := <-first; err != nil {
			t.Fatalf("first Close = %v", err)
		}
		for range n {
			if err := <-results; !errors.Is(err, otelguard.ErrClosed) {
				t.Fatalf("concurrent Close = %v, want ErrClosed", err)
			}
		}
		if runs.Load() != 1 {
			t.Fatalf("release ran %d times", runs.Load())
		}
		wantEnd(t, h.one(t, "c"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	})
}

func TestWaitingCloseBoundedByItsCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		unblock := make(chan struct{})
		r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error { <-unblock; return nil }, otelguard.WithTracker(h.tr))
		go func() { _ = r.Close(context.Background()) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := r.Close(ctx)
		if !errors.Is(err, otelguard.ErrClosed) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting Close = %v, want ErrClosed and DeadlineExceeded", err)
		}
		close(unblock)
	})
}

func TestCloseWithDoneCtxRunsDetached(t *testing.T) {
	h := newHarness(t, otelguard.WithCleanupTimeout(2*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var relErr error
	var hasDeadline bool
	r := otelguard.Acquire(context.Background(), "c", 0, func(ctx context.Context, _ int) error {
		relErr = ctx.Err()
		_, hasDeadline = ctx.Deadline()
		return nil
	}, otelguard.WithTracker(h.tr))
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if relErr != nil || !hasDeadline {
		t.Errorf("release ctx err = %v, deadline = %v; want live and bounded", relErr, hasDeadline)
	}
	a := wantEnd(t, h.one(t, "c"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	if !a[attrkey.CleanupDetached].AsBool() {
		t.Error("detached not recorded")
	}
}

// CloseAsync is the bounded release: its channel gets DeadlineExceeded at
// the deadline, the span ends timed_out then, and the release goes on as a
// straggler that Flush and Shutdown wait for.
func TestCloseAsyncReturnsByDeadlineAndShutdownWaitsForStraggler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		unblock := make(chan struct{})
		finished := make(chan struct{})
		r := otelguard.Acquire(context.Background(), "slow", 0, func(context.Context, int) error {
			<-unblock // ignores its ctx
			close(finished)
			return nil
		}, otelguard.WithTracker(h.tr))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := <-r.CloseAsync(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CloseAsync = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Fatalf("CloseAsync delivered after %v, want at the 200ms deadline", d)
		}
		s := h.one(t, "slow")
		a := wantEnd(t, s, otelguard.OutcomeTimedOut, otelguard.TriggerClose)
		if a[attrkey.ErrorType].AsString() != "timeout" || s.Status().Code != codes.Error {
			t.Errorf("error.type = %v, status = %v", a[attrkey.ErrorType], s.Status())
		}
		if live := h.tr.Live(); len(live) != 1 || !live[0].Releasing {
			t.Fatalf("the straggler should still be live and releasing: %+v", live)
		}

		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		defer scancel()
		if err := h.tr.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a straggler running = %v, want DeadlineExceeded", err)
		}
		go close(unblock)
		if err := h.tr.Flush(boundedCtx()); err != nil {
			t.Fatalf("Flush = %v", err)
		}
		<-finished
		if live := h.tr.Live(); len(live) != 0 {
			t.Fatalf("Live after the straggler finished: %+v", live)
		}
		// A Close after the straggler finished runs nothing.
		if err := r.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
			t.Fatal(err)
		}
		if n := len(h.ended("slow")); n != 1 {
			t.Fatalf("%d spans for one lifetime", n)
		}
	})
}

// Close runs the release where it is called, whatever ctx carries: with a
// ctx that carries a deadline, the release runs on the caller's goroutine
// (its stack holds the caller's frames), and Close returns when it does.
// (Before the v1 contract a deadline made Close start a goroutine, which
// cost 1.67x and lost a panic's stack.)
func TestCloseWithDeadlineRunsWhereCalled(t *testing.T) {
	h := newHarness(t)
	var stack string
	r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error {
		buf := make([]byte, 64<<10)
		stack = string(buf[:runtime.Stack(buf, false)])
		return nil
	}, otelguard.WithTracker(h.tr))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stack, "TestCloseWithDeadlineRunsWhereCalled(") {
		t.Fatalf("the release ran on another goroutine:\n%s", stack)
	}
	wantEnd(t, h.one(t, "c"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
}

// A Close ctx with a deadline that is cancelled is a cancellation, not a
// timeout: a release returning ctx.Err() ends failed with error.type
// canceled. (Before the v1 contract it gave timed_out, error.type=timeout,
// "abandoned at its deadline: context canceled".) CloseAsync given up by a
// cancellation ends failed the same way.
func TestCancellationIsNotATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		honours := func(ctx context.Context, _ int) error { <-ctx.Done(); return ctx.Err() }
		r := otelguard.Acquire(context.Background(), "close", 0, honours, otelguard.WithTracker(h.tr))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		time.AfterFunc(time.Second, cancel)
		if err := r.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v, want context.Canceled", err)
		}
		a := wantEnd(t, h.one(t, "close"), otelguard.OutcomeFailed, otelguard.TriggerClose)
		if got := a[attrkey.ErrorType].AsString(); got != "canceled" {
			t.Errorf("error.type = %q, want canceled", got)
		}

		unblock := make(chan struct{})
		ra := otelguard.Acquire(context.Background(), "async", 0, func(context.Context, int) error { <-unblock; return nil }, otelguard.WithTracker(h.tr))
		actx, acancel := context.WithTimeout(context.Background(), time.Hour)
		time.AfterFunc(time.Second, acancel)
		if err := <-ra.CloseAsync(actx); !errors.Is(err, context.Canceled) {
			t.Fatalf("CloseAsync = %v, want context.Canceled", err)
		}
		a = wantEnd(t, h.one(t, "async"), otelguard.OutcomeFailed, otelguard.TriggerClose)
		if got := a[attrkey.ErrorType].AsString(); got != "canceled" {
			t.Errorf("error.type = %q, want canceled", got)
		}
		close(unblock)
		if err := h.tr.Flush(boundedCtx()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReleaseReturningDeadlineExceededIsTimedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		r := otelguard.Acquire(context.Background(), "c", 0, func(ctx context.Context, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		}, otelguard.WithTracker(h.tr))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.Close(ctx)
		wantEnd(t, h.one(t, "c"), otelguard.OutcomeTimedOut, otelguard.TriggerClose)
	})
}

func TestClosePanicGoesToCaller(t *testing.T) {
	for _, withDeadline := range []bool{false, true} {
		h := newHarness(t)
		r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error { panic(io.ErrClosedPipe) }, otelguard.WithTracker(h.tr))
		ctx := context.Background()
		if withDeadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Hour)
			defer cancel()
		}
		got := func() (v any) {
			defer func() { v = recover() }()
			_ = r.Close(ctx)
			return nil
		}()
		if got != io.ErrClosedPipe {
			t.Fatalf("deadline=%v: recovered %v, want the release's panic value", withDeadline, got)
		}
		a := wantEnd(t, h.one(t, "c"), otelguard.OutcomeFailed, otelguard.TriggerClose)
		if a[attrkey.ErrorType].AsString() != "panic_or_goexit" {
			t.Errorf("error.type = %v", a[attrkey.ErrorType])
		}
		if err := r.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
			t.Errorf("Close after a panicking release = %v", err)
		}
	}
}

func TestCloseAsync(t *testing.T) {
	h := newHarness(t)
	c := &conn{}
	r := otelguard.Track(context.Background(), "c", c, otelguard.WithTracker(h.tr))
	ch := r.CloseAsync(context.Background())
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-ch:
		t.Fatalf("second value %v on the channel", v)
	default:
	}
	if err := <-r.CloseAsync(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
		t.Fatalf("repeated CloseAsync = %v", err)
	}
	if c.closed.Load() != 1 {
		t.Fatal("release did not run once")
	}
	wantEnd(t, h.one(t, "c"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
	if err := h.tr.Shutdown(boundedCtx()); err != nil {
		t.Fatal(err)
	}
}

func TestCloseAsyncPanicBecomesError(t *testing.T) {
	h := newHarness(t)
	hd := captureHandled(t)
	r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error { panic("async boom") }, otelguard.WithTracker(h.tr))
	err := <-r.CloseAsync(context.Background())
	var pe *otelguard.PanicError
	if !errors.As(err, &pe) || pe.Value != "async boom" || pe.Name != "c" || len(pe.Stack) == 0 {
		t.Fatalf("CloseAsync = %v, want a *PanicError", err)
	}
	if got := hd.all(); len(got) != 1 {
		t.Fatalf("otel.Handle got %v", got)
	}
	_ = h.tr.Shutdown(boundedCtx())
	wantEnd(t, h.one(t, "c"), otelguard.OutcomeFailed, otelguard.TriggerClose)
}

func TestCloseAsyncGoexitStillDelivers(t *testing.T) {
	h := newHarness(t)
	r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error { runtimeGoexit(); return nil }, otelguard.WithTracker(h.tr))
	if err := <-r.CloseAsync(context.Background()); err == nil {
		t.Fatal("CloseAsync of a Goexit release = nil")
	}
	_ = h.tr.Shutdown(boundedCtx())
	wantEnd(t, h.one(t, "c"), otelguard.OutcomeFailed, otelguard.TriggerClose)
}

func TestDetach(t *testing.T) {
	h := newHarness(t)
	c := &conn{}
	r := otelguard.Track(context.Background(), "c", c, otelguard.WithTracker(h.tr))
	if got := r.Detach(); got != c {
		t.Fatal("Detach returned another value")
	}
	if err := r.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
		t.Fatalf("Close after Detach = %v", err)
	}
	if c.closed.Load() != 0 {
		t.Fatal("Detach released")
	}
	wantEnd(t, h.one(t, "c"), otelguard.OutcomeDisarmed, otelguard.TriggerDisarm)
	//otelguard:handoff misuse on purpose: the test wants the use_after_detach record
	_ = r.Value()
	m := h.one(t, attrkey.MisuseSpan)
	if attrs(m)[attrkey.MisuseKind].AsString() != "use_after_detach" {
		t.Errorf("misuse kind = %v", m.Attributes())
	}
}

func TestValueAfterCloseIsRecordedOnce(t *testing.T) {
	h := newHarness(t)
	r := otelguard.Acquire(context.Background(), "c", 7, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
	_ = r.Value() // fine while open
	_ = r.Close(context.Background())
	for range 3 {
		//otelguard:handoff misuse on purpose: the test checks the misuse is recorded once
		if r.Value() != 7 {
			t.Fatal("Value after Close changed")
		}
	}
	ms := h.ended(attrkey.MisuseSpan)
	if len(ms) != 1 {
		t.Fatalf("%d misuse spans, want 1", len(ms))
	}
	m, life := ms[0], h.one(t, "c")
	a := attrs(m)
	if a[attrkey.MisuseKind].AsString() != "use_after_close" || a[attrkey.Name].AsString() != "c" {
		t.Errorf("misuse attrs %v", m.Attributes())
	}
	if _, isLifetime := a[attrkey.Kind]; isLifetime {
		t.Error("a misuse record must not look like a lifetime")
	}
	if len(m.Links()) != 1 || m.Links()[0].SpanContext.SpanID() != life.SpanContext().SpanID() {
		t.Errorf("misuse links %v, want the lifetime span", m.Links())
	}
	if st := a[attrkey.Stacktrace].AsString(); !containsFunc(st, "TestValueAfterCloseIsRecordedOnce") {
		t.Errorf("misuse stack does not name the caller:\n%s", st)
	}
	// Detach after Close: misuse of its own kind, nothing released again.
	_ = r.Detach()
}

func TestCloseOnCancel(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	released := make(chan error, 1)
	r := otelguard.Acquire(ctx, "lease", 0, func(ctx context.Context, _ int) error {
		released <- ctx.Err()
		return nil
	}, otelguard.WithTracker(h.tr), otelguard.CloseOnCancel())
	cancel()
	if err := <-released; err != nil {
		t.Error("release after cancel got a done ctx, want a detached one")
	}
	if err := h.tr.Shutdown(boundedCtx()); err != nil { // waits for the release goroutine
		t.Fatal(err)
	}
	a := wantEnd(t, h.one(t, "lease"), otelguard.OutcomeCleaned, otelguard.TriggerCancel)
	if !a[attrkey.CleanupDetached].AsBool() {
		t.Error("cancel release not detached")
	}
	if err := r.Close(context.Background()); !errors.Is(err, otelguard.ErrClosed) {
		t.Fatalf("Close after cancel release = %v", err)
	}
}

func TestCloseBeforeCancelStopsTheWatch(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	r := otelguard.Acquire(ctx, "lease", 0, func(context.Context, int) error { runs.Add(1); return nil },
		otelguard.WithTracker(h.tr), otelguard.CloseOnCancel())
	_ = r.Close(context.Background())
	cancel()
	_ = h.tr.Shutdown(boundedCtx())
	if runs.Load() != 1 {
		t.Fatalf("release ran %d times", runs.Load())
	}
	wantEnd(t, h.one(t, "lease"), otelguard.OutcomeCleaned, otelguard.TriggerClose)
}

func TestCloseOnCancelRacesClose(t *testing.T) {
	h := newHarness(t)
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		var runs atomic.Int32
		r := otelguard.Acquire(ctx, "race", 0, func(context.Context, int) error { runs.Add(1); return nil },
			otelguard.WithTracker(h.tr), otelguard.CloseOnCancel())
		var wg sync.WaitGroup
		wg.Go(cancel)
		wg.Go(func() { _ = r.Close(context.Background()) })
		wg.Wait()
		_ = h.tr.Flush(boundedCtx())
		if runs.Load() != 1 {
			t.Fatalf("release ran %d times", runs.Load())
		}
	}
	if n := len(h.ended("race")); n != 200 {
		t.Fatalf("%d spans for 200 lifetimes", n)
	}
}

func TestResourceSpanCarriesParentAndCloseCtx(t *testing.T) {
	h := newHarness(t)
	ctx, parent := h.tp.Tracer("t").Start(context.Background(), "req")
	var got trace.SpanContext
	r := otelguard.Acquire(ctx, "c", 0, func(ctx context.Context, _ int) error { got = trace.SpanContextFromContext(ctx); return nil }, otelguard.WithTracker(h.tr))
	_ = r.Close(context.Background())
	parent.End()
	s := h.one(t, "c")
	if s.Parent().SpanID() != parent.SpanContext().SpanID() || got.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("parent %v / release ctx span %v", s.Parent().SpanID(), got.SpanID())
	}
}
