package otelguardtest

import (
	"context"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// A Recorder is a Tracker made for one test, recording into an Exporter of
// its own. Make one with NewTracker.
type Recorder struct {
	// Tracker is the test's Tracker: acquire with its methods, or with
	// otelguard.WithTracker(rec.Tracker).
	Tracker *otelguard.Tracker
	// Exporter holds the spans of the Tracker's lifetimes, each recorded
	// synchronously when its lifetime ends.
	Exporter *memory.Exporter
	// TracerProvider is the provider the Tracker's spans come from, for a
	// test that starts spans of its own to parent lifetimes under.
	TracerProvider *sdktrace.TracerProvider
}

// shutdownTimeout bounds the Tracker's Shutdown at the end of a test.
const shutdownTimeout = time.Second

// NewTracker returns a Recorder: a new Tracker whose spans a TracerProvider
// of its own records synchronously (sdktrace.WithSyncer) into a new
// memory.Exporter, so that a lifetime is in Lifetimes as soon as it ends.
//
// opts are given to otelguard.New after the Recorder's own
// WithTracerProvider, so they win: a WithTracerProvider among them sends
// the spans to that provider instead, and Lifetimes stays empty (Find and
// VerifyNone, which read the Tracker itself, still work).
//
// NewTracker registers a t.Cleanup that, when the test and its subtests
// are done, calls VerifyNone(t, rec.Tracker), failing the test if any of
// its lifetimes leaked or is still open; then it ends what is still open
// as open_at_shutdown (Tracker.Shutdown, so that the Exporter has a record
// of every lifetime) and shuts the TracerProvider down. The Exporter keeps
// its records: a Cleanup registered before NewTracker runs after this one
// and can still read them. Each test judges only its own Tracker, so tests
// that run in parallel do not see each other's lifetimes.
//
// NewTracker panics if t is nil. It may be called from any goroutine that
// may call t.Cleanup.
func NewTracker(t TestingT, opts ...otelguard.Option) *Recorder {
	if t == nil {
		panic("otelguardtest: NewTracker called with a nil TestingT")
	}
	markHelper(t)
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	all := make([]otelguard.Option, 0, 1+len(opts))
	all = append(all, otelguard.WithTracerProvider(tp))
	all = append(all, opts...)
	r := &Recorder{Tracker: otelguard.New(all...), Exporter: exp, TracerProvider: tp}
	t.Cleanup(func() {
		markHelper(t)
		VerifyNone(t, r.Tracker)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = r.Tracker.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return r
}

// Lifetimes returns the lifetimes that have ended so far, in the order
// they ended: r.Exporter.Lifetimes(). Safe for concurrent use.
func (r *Recorder) Lifetimes() []memory.Lifetime { return r.Exporter.Lifetimes() }
