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
