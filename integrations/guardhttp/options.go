package guardhttp

import "github.com/otelguard/otelguard-go/otelguard"

// An Option configures NewTransport or NewHandler. Options are applied in
// order; a later one overrides an earlier one. An option that concerns
// only one of them is ignored by the other, as its documentation says.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the resolved form of a list of Options.
type config struct {
	tracker       *otelguard.Tracker // nil: the request's context's, else otelguard.Default()
	noLeakRelease bool               // WithoutReleaseOnLeak
	skip          []string           // WithCallerSkipPackages
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithTracker makes the Transport record response bodies, and the Handler
// make its requests, with t, whatever Tracker the request's context
// carries. Without it (or with a nil t) they use the Tracker in the
// request's context (otelguard.ContextWithTracker), else
// otelguard.Default().
func WithTracker(t *otelguard.Tracker) Option {
	return optionFunc(func(c *config) { c.tracker = t })
}

// WithoutReleaseOnLeak makes the Transport only report a response body
// found dropped without Close (outcome leaked_without_close, with its
// acquire stack), not close it. By default the Transport closes such a
// body when it reports it (otelguard.ReleaseOnLeak), so that its
// connection is freed. NewHandler ignores this option.
func WithoutReleaseOnLeak() Option {
	return optionFunc(func(c *config) { c.noLeakRelease = true })
}

// WithCallerSkipPackages names packages, by import path, whose frames the
// acquire stack of a response body skips when they lead it, as it skips
// net/http's, otelhttp's and this package's: RoundTrippers that wrap the
// Transport, or functions that call the client for their caller, written
// once and trusted to pass each response on, so that the stack starts at
// the code that called them. Without it such a frame, being the first
// that is not net/http's, starts the stack: a RoundTripper of your own
// receives every response first and may be where a body is dropped, and
// the code that called the client is further down the same stack. Options
// add up. NewHandler ignores this option.
func WithCallerSkipPackages(pkgs ...string) Option {
	return optionFunc(func(c *config) { c.skip = append(c.skip, pkgs...) })
}
