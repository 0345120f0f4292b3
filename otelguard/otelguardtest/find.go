package otelguardtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
)

// TestingT is the part of testing.TB that the helpers use: *testing.T,
// *testing.B, *testing.F and testing.TB satisfy it, and so can a fake. If
// the value also has a Helper() method, the helpers call it, so that a
// failure is reported at the test's own line; if it has Context() or
// Output() (as *testing.T has since Go 1.24 and 1.25), NewTracker uses
// them.
type TestingT interface {
	Error(args ...any)
	Cleanup(func())
}

type helper interface{ Helper() }

// flushTimeout bounds Find's last wait for the Tracker's own goroutines.
const flushTimeout = 10 * time.Second

// Find looks for lifetimes of tr that were not released: the ones leak
// detection found leaked (Tracker.Leaks) and the ones still open
// (Tracker.Live). It returns nil when there are none, and otherwise an
// error that lists each one with its kind, name, state
// (leaked_without_close or open) and acquire stack:
//
//	otelguard: found 2 unreleased lifetimes:
//
//	resource "db.conn": leaked_without_close, acquired at:
//	example.com/app.openAndForget(...)
//		/src/app/app_test.go:12 +0x4c
//	...
//
// Leak detection runs when the garbage collector finds a handle
// unreachable, so Find first forces collections: it collects, waits for
// the reports of what was found (Tracker.Flush), and while some lifetime
// is still open, retries (MaxRetries, DefaultMaxRetries by default) with
// a wait growing from a microsecond to 100ms. A handle dropped by code
// that has returned is found this way; one still reachable (a global, a
// goroutine still running) stays open and is reported as such once the
// retries run out. Releases still running on the Tracker's goroutines
// (CloseAsync, CloseOnCancel, stragglers that outlived a deadline) count
// as open.
//
// Find returns only after every leak it reports has ended its span, so
// that an exporter has it by then, unless the Tracker's goroutines are
// still busy after 10s (otelguard.DefaultCleanupTimeout): the error says
// so. Find never ends, releases or reports a lifetime itself; it may be
// called any number of times, from any goroutine, concurrently with the
// Tracker's use. A leak stays in Tracker.Leaks, so a later Find over the
// same Tracker reports it again; IgnoreCurrent sets a baseline.
//
// Find panics if tr is nil.
func Find(tr *otelguard.Tracker, options ...Option) error {
	if tr == nil {
		panic("otelguardtest: Find called with a nil *otelguard.Tracker")
	}
	o := buildOpts(options)
	for i := 0; ; i++ {
		runtime.GC()
		flush(tr, backoff(i)+time.Millisecond)
		if !o.anyOpen(tr.Live()) || i >= o.maxRetries {
			break
		}
		time.Sleep(backoff(i))
	}

	// Read Live first: a lifetime that leaks from now on is then among
	// the missed closes too (and listed once, see below) rather than in
	// neither.
	live := tr.Live()
	var missed []bridge.Missed
	var total int64 // missed closes recorded in all, as of missed
	var flushErr error
	for range 3 {
		_, _, n := bridge.MissedOf(tr)
		flushErr = flush(tr, flushTimeout)
		missed, _, total = bridge.MissedOf(tr)
		// Every missed close recorded before n was read had its report in
		// flight during the flush: its span has ended. If none was
		// recorded since, that is every one in missed.
		if flushErr != nil || total == n {
			break
		}
	}
	return o.report(live, missed, total, flushErr)
}

// flush waits for the Tracker's own goroutines, up to d.
func flush(tr *otelguard.Tracker, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return tr.Flush(ctx)
}

// anyOpen reports whether live holds a lifetime that Find would report as
// open.
func (o *opts) anyOpen(live []otelguard.LiveLifetime) bool {
	for _, l := range live {
		if !l.Leaked && !o.ignored(l.Name, l.AcquiredAt) {
			return true
		}
	}
	return false
}

// unreleased is one entry of Find's report.
type unreleased struct {
	kind  otelguard.Kind
	name  string
	state string
	stack string
}

func (o *opts) report(live []otelguard.LiveLifetime, missed []bridge.Missed, total int64, flushErr error) error {
	var found []unreleased
	leaked := make(map[uint64]bool, len(missed))
	for _, l := range missed {
		if o.ignored(l.Name, l.AcquiredAt) {
			continue
		}
		leaked[l.ID] = true
		state := l.What
		switch {
		case l.Released:
			state += " (released by ReleaseOnLeak)"
		case l.Description != "":
			state += " (" + l.Description + ")"
		}
		found = append(found, unreleased{otelguard.Kind(l.Kind), l.Name, state, l.Stack})
	}
	for _, l := range live {
		// A lifetime that leaks while it waits for CloseOnCancel is
		// reported from Leaks; one that leaked after Live was read, too.
		if l.Leaked || o.ignored(l.Name, l.AcquiredAt) || leaked[l.ID] {
			continue
		}
		state := "open"
		switch {
		case l.Releasing:
			state += " (its release is still running)"
		case l.Reported:
			state += " (reported open_at_shutdown, never released)"
		}
		found = append(found, unreleased{l.Kind, l.Name, state, l.Stack})
	}
	if len(found) == 0 && flushErr == nil {
		return nil
	}

	var b strings.Builder
	switch len(found) {
	case 0:
	case 1:
		b.WriteString("otelguard: found 1 unreleased lifetime:\n")
	default:
		fmt.Fprintf(&b, "otelguard: found %d unreleased lifetimes:\n", len(found))
	}
	for _, u := range found {
		fmt.Fprintf(&b, "\n%s %q: %s", u.kind, u.name, u.state)
		if u.stack == "" {
			b.WriteString(" (no acquire stack: the Tracker captures none)\n")
		} else {
			b.WriteString(", acquired at:\n")
			b.WriteString(u.stack)
			if !strings.HasSuffix(u.stack, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	if total > int64(len(missed)) {
		fmt.Fprintf(&b, "\n(the Tracker recorded %d missed closes in all and keeps the most recent %d)\n", total, len(missed))
	}
	if flushErr != nil {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "otelguard: the Tracker's goroutines (releases, leak reports) were still busy after %v: %v\n", flushTimeout, flushErr)
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

// VerifyNone marks t as failed (t.Error) with Find's report if Find finds
// lifetimes of tr that were not released. It calls t.Helper when t has it,
// so the failure is reported at the line that called VerifyNone.
//
//	defer otelguardtest.VerifyNone(t, tracker)
//
// It judges tr's lifetimes only: with a Tracker per test, tests that run
// in parallel do not see each other's. NewTracker registers it for you.
func VerifyNone(t TestingT, tr *otelguard.Tracker, options ...Option) {
	if h, ok := t.(helper); ok {
		h.Helper()
	}
	if err := Find(tr, options...); err != nil {
		t.Error(err)
	}
}
