package otelguardtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// A Recorder is a Tracker made for one test, recording into an Exporter of
// its own. Make one with NewTracker.
type Recorder struct {
	// Tracker is the test's Tracker. Code under test finds it in
	// Context(); a call can also name it with otelguard.WithTracker or use
	// its methods.
	Tracker *otelguard.Tracker
	// Exporter holds the spans of the Tracker's lifetimes, each recorded
	// synchronously when its lifetime ends.
	Exporter *memory.Exporter
	// TracerProvider is the provider the Tracker's spans come from, for a
	// test that starts spans of its own to parent lifetimes under.
	TracerProvider *sdktrace.TracerProvider

	ctx context.Context
}

// shutdownTimeout bounds the Tracker's Shutdown at the end of a test.
const shutdownTimeout = time.Second

// NewTracker returns a Recorder: a new Tracker whose spans a TracerProvider
// of its own records synchronously (sdktrace.WithSyncer) into a new
// memory.Exporter, so that a lifetime is in Lifetimes as soon as it ends.
// Give the code under test rec.Context(): the package-level functions
// (Acquire, Track, NewGuard, NewScope) then use the test's Tracker without
// naming it.
//
// The Tracker's warnings (a lifetime held past its hold threshold, one
// that came back late) go to t.Output() when t has it, as *testing.T does
// since Go 1.25, so a test that hangs on an exhausted pool names the
// holder before -timeout kills it.
//
// opts are given to otelguard.New after the Recorder's own
// WithTracerProvider and WithLogger, so they win: a WithTracerProvider
// among them sends the spans to that provider instead, and Lifetimes stays
// empty (Find and VerifyNone, which read the Tracker itself, still work).
//
// NewTracker registers a t.Cleanup that, when the test and its subtests
// are done, calls VerifyNone(t, rec.Tracker), failing the test — at the
// line that called NewTracker — if any of its lifetimes leaked or is still
// open. It also fails the test if lifetimes that the test's own goroutine
// acquired during the test went to otelguard.Default() instead and were
// left open or leaked there: code that missed the test's context. Then it
// ends what is still open as open_at_shutdown (Tracker.Shutdown, so that
// the Exporter has a record of every lifetime) and shuts the
// TracerProvider down. The Exporter keeps its records: a Cleanup
// registered before NewTracker runs after this one and can still read
// them. Each test judges only its own Tracker, so tests that run in
// parallel do not see each other's lifetimes.
//
// NewTracker panics if t is nil. It may be called from any goroutine that
// may call t.Cleanup.
func NewTracker(t TestingT, opts ...otelguard.Option) *Recorder {
	if t == nil {
		panic("otelguardtest: NewTracker called with a nil TestingT")
	}
	if h, ok := t.(helper); ok {
		h.Helper()
	}
	test := callerFunction()
	start := time.Now()
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	all := make([]otelguard.Option, 0, 2+len(opts))
	all = append(all, otelguard.WithTracerProvider(tp))
	if o, ok := t.(interface{ Output() io.Writer }); ok {
		all = append(all, otelguard.WithLogger(slog.New(slog.NewTextHandler(o.Output(), nil))))
	}
	all = append(all, opts...)
	r := &Recorder{Tracker: otelguard.New(all...), Exporter: exp, TracerProvider: tp}
	parent := context.Background()
	if c, ok := t.(interface{ Context() context.Context }); ok {
		parent = c.Context()
	}
	r.ctx = otelguard.ContextWithTracker(parent, r.Tracker)
	t.Cleanup(func() {
		if h, ok := t.(helper); ok {
			h.Helper()
		}
		VerifyNone(t, r.Tracker)
		if err := strayOnDefault(test, start); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = r.Tracker.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return r
}

// Context returns a context that carries the test's Tracker
// (otelguard.ContextWithTracker): the package-level functions given it, or
// a context derived from it, use the test's Tracker. It is derived from
// t.Context() when t has it, so it is cancelled when the test ends.
func (r *Recorder) Context() context.Context { return r.ctx }

// Lifetimes returns the lifetimes that have ended so far, in the order
// they ended: r.Exporter.Lifetimes(). Safe for concurrent use.
func (r *Recorder) Lifetimes() []memory.Lifetime { return r.Exporter.Lifetimes() }

// callerFunction is the function that called NewTracker: the test.
func callerFunction() string {
	pc, _, _, ok := runtime.Caller(2)
	if !ok {
		return ""
	}
	f := runtime.FuncForPC(pc)
	if f == nil {
		return ""
	}
	return f.Name()
}

// strayOnDefault looks in otelguard.Default() for lifetimes acquired since
// start by test (or a closure in it, such as a subtest), on its own
// goroutine, that are still open or were found leaked: lifetimes the code
// under test put on Default() instead of the test's Tracker, which the
// test's own check cannot see. Lifetimes acquired on other goroutines do
// not carry the test's frame and cannot be told apart from another
// parallel test's.
func strayOnDefault(test string, start time.Time) error {
	if test == "" {
		return nil
	}
	d := otelguard.Default()
	runtime.GC()
	flush(d, 100*time.Millisecond)
	var found []string
	for _, l := range d.Live() {
		if !l.AcquiredAt.Before(start) && stackNames(l.Stack, test) {
			found = append(found, fmt.Sprintf("%s %q: open, acquired at:\n%s", l.Kind, l.Name, l.Stack))
		}
	}
	for _, l := range bridge.Leaks(d) {
		if !l.AcquiredAt.Before(start) && stackNames(l.Stack, test) {
			found = append(found, fmt.Sprintf("%s %q: leaked_without_close, acquired at:\n%s", l.Kind, l.Name, l.Stack))
		}
	}
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("otelguardtest: %d lifetimes acquired by this test went to otelguard.Default(), not the test's Tracker: "+
		"give the code under test rec.Context() (or otelguard.WithTracker(rec.Tracker)):\n\n%s",
		len(found), strings.Join(found, "\n"))
}

// stackNames reports whether a rendered stack has a frame of function fn or
// of a closure in it.
func stackNames(stack, fn string) bool {
	for line := range strings.Lines(stack) {
		if strings.HasPrefix(line, fn+"(") || strings.HasPrefix(line, fn+".") {
			return true
		}
	}
	return false
}
