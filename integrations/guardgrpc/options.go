package guardgrpc

import "github.com/otelguard/otelguard-go/otelguard"

// An Option configures StreamClientInterceptor, UnaryServerInterceptor or
// StreamServerInterceptor. Options are applied in order; a later one
// overrides an earlier one. An option that concerns only some of them is
// ignored by the others, as its documentation says.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the resolved form of a list of Options.
type config struct {
	tracker       *otelguard.Tracker // nil: the context's, else otelguard.Default()
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

// WithTracker makes the client interceptor record streams, and the server
// interceptors make their RPCs' Requests, with t, whatever Tracker the
// call's context carries. Without it (or with a nil t) they use the Tracker
// in the context (otelguard.ContextWithTracker), else otelguard.Default().
func WithTracker(t *otelguard.Tracker) Option {
	return optionFunc(func(c *config) { c.tracker = t })
}

// WithoutReleaseOnLeak makes StreamClientInterceptor only report a client
// stream found dropped unfinished (outcome leaked_without_close, with its
// acquire stack), not cancel it. By default the interceptor gives each
// stream a context of its own and cancels it when it reports the leak
// (otelguard.ReleaseOnLeak), so that gRPC finishes the stream and its
// goroutine exits; with this option the stream, its goroutine and the
// otelgrpc span of its call live on until the caller's context is done or
// the ClientConn closes, as they would without guardgrpc. The server
// interceptors ignore this option.
func WithoutReleaseOnLeak() Option {
	return optionFunc(func(c *config) { c.noLeakRelease = true })
}

// WithCallerSkipPackages names packages, by import path, whose frames the
// acquire stack of a client stream skips when they lead it, as it skips
// gRPC's and this package's: the package of your generated client code
// (its methods call ClientConn.NewStream for their caller), client
// interceptors of your own that run before StreamClientInterceptor, or
// functions that open streams for their caller. Without it the first such
// frame starts the stack, and the code that called it is the next frame.
// Options add up. The server interceptors ignore this option.
func WithCallerSkipPackages(pkgs ...string) Option {
	return optionFunc(func(c *config) { c.skip = append(c.skip, pkgs...) })
}
