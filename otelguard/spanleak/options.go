package spanleak

import "github.com/otelguard/otelguard-go/otelguard"

// An Option configures NewProcessor.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

const (
	defaultStackDepth = 32
	// defaultSampling: after the first 16 spans of a site, one in 128 is
	// watched — about 1.07× a span's start and end, where watching every
	// span costs about 1.6× (docs/spanleak.md).
	defaultSampling = 128
	maxStackDepth   = 128
)

type config struct {
	tracker  *otelguard.Tracker // nil: otelguard.Default(), resolved in NewProcessor
	sampling int
	depth    int
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tracker == nil {
		c.tracker = otelguard.Default()
	}
	if c.sampling == 0 {
		c.sampling = defaultSampling
	}
	switch {
	case c.depth == 0:
		c.depth = defaultStackDepth
	case c.depth > maxStackDepth:
		c.depth = maxStackDepth
	case c.depth < 0:
		c.depth = 0
	}
	return c
}

// WithTracker sets the Tracker that findings go through: its
// TracerProvider gets the finding spans, its MeterProvider the
// otelguard.findings metric, its logger (otelguard.WithLogger) the Warn
// records, and its WithLeakLogInterval limits how often one call site is
// reported. Without it, or with nil, the processor uses
// otelguard.Default(), whose providers are the global ones.
func WithTracker(t *otelguard.Tracker) Option {
	return optionFunc(func(c *config) {
		if t != nil {
			c.tracker = t
		}
	})
}

// WithSampling sets how many spans are watched, per site, as
// otelguard.WithLeakSampling does for lifetimes: the first 16 spans of
// every site are watched, then one in n. Zero selects the default, 128,
// which production can afford everywhere; 1 watches every span (tests,
// and otelguardtest.CheckSpans, do); a negative n watches none: the
// processor then does nothing, and Shutdown reports nothing.
//
// A site is told by the span's name and its instrumentation scope name
// (the name given to TracerProvider.Tracer), not by a walk of the stack:
// telling a span not watched from one that is costs a hash of those two
// strings and an atomic add, no stack. 4096 sites are counted apart at
// once; a site past that takes the slot of an older one, whose count
// starts again at zero if it comes back (watched more, never less).
//
// What sampling gives up: a span not watched that is never ended is not
// found. A site that forgets End every time is found from its first 16
// spans; one that forgets it on a rare path is found after about n of
// those.
func WithSampling(n int) Option {
	return optionFunc(func(c *config) { c.sampling = n })
}

// WithStackDepth sets how many frames of a watched span's start stack are
// kept (program counters, symbolized only when the span is reported).
// Zero selects the default, 32; a value above 128 is clamped to 128; a
// negative n keeps no stack: spans never ended are still found and
// reported, without code.stacktrace, and OnStart does not walk the stack.
func WithStackDepth(n int) Option {
	return optionFunc(func(c *config) { c.depth = n })
}
