package otelguardtest

import "time"

// An Option changes what Find, VerifyNone and VerifyTestMain look for or
// how long they look.
type Option interface {
	apply(*opts)
}

type optionFunc func(*opts)

func (f optionFunc) apply(o *opts) { f(o) }

// DefaultMaxRetries is how many times Find retries, collecting garbage and
// waiting a little longer each time, while a lifetime is still open.
const DefaultMaxRetries = 20

// maxSleep caps the wait between two retries.
const maxSleep = 100 * time.Millisecond

type opts struct {
	ignore     map[string]bool
	since      time.Time // zero: no baseline
	maxRetries int
}

func buildOpts(options []Option) *opts {
	o := &opts{maxRetries: DefaultMaxRetries}
	for _, op := range options {
		if op != nil {
			op.apply(o)
		}
	}
	return o
}

// IgnoreName ignores every lifetime named name, leaked or open: a
// connection pool that the package keeps for all its tests, for example.
// The name is matched exactly. Give it once per name.
func IgnoreName(name string) Option {
	return optionFunc(func(o *opts) {
		if o.ignore == nil {
			o.ignore = map[string]bool{}
		}
		o.ignore[name] = true
	})
}

// IgnoreCurrent ignores every lifetime acquired before IgnoreCurrent was
// called: those open now, and the leaks found so far. It is for a Tracker
// that several tests share (such as otelguard.Default()), so that each
// test judges only what it acquired:
//
//	defer otelguardtest.VerifyNone(t, otelguard.Default(), otelguardtest.IgnoreCurrent())
//
// (the arguments of a deferred call are evaluated at the defer statement).
// Such a Tracker cannot attribute lifetimes to tests running in parallel;
// a Tracker per test (NewTracker) can.
func IgnoreCurrent() Option {
	since := time.Now()
	return optionFunc(func(o *opts) { o.since = since })
}

// MaxRetries sets how many times Find retries while a lifetime is still
// open (DefaultMaxRetries unless set). Each retry collects garbage and
// waits, from a microsecond doubling up to 100ms. Zero looks once, after a
// single collection; a negative n is taken as zero.
func MaxRetries(n int) Option {
	return optionFunc(func(o *opts) {
		if n < 0 {
			n = 0
		}
		o.maxRetries = n
	})
}

// ignored reports whether a lifetime named name, acquired at acquired, is
// left out of the report.
func (o *opts) ignored(name string, acquired time.Time) bool {
	if o.ignore[name] {
		return true
	}
	return !o.since.IsZero() && acquired.Before(o.since)
}

// backoff is the wait before retry i (counting from 0).
func backoff(i int) time.Duration {
	if i >= 20 {
		return maxSleep
	}
	d := time.Microsecond << uint(i)
	if d > maxSleep {
		d = maxSleep
	}
	return d
}
