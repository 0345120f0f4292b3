package otelguard

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of a Tracker's configuration.
const (
	// defaultCleanupTimeout bounds a release that runs on a detached
	// context (see WithCleanupTimeout).
	defaultCleanupTimeout = 10 * time.Second
	// defaultStackDepth is how many frames of an acquire stack are kept.
	defaultStackDepth = 32
	// maxStackDepth is the most frames WithStackDepth keeps; larger values
	// are clamped to it.
	maxStackDepth = 128
)

// An Option configures a Tracker. Options are applied by New in order; a
// later option overrides an earlier one.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is a Tracker's configuration, resolved once by New.
type config struct {
	tp             trace.TracerProvider
	mp             metric.MeterProvider
	cleanupTimeout time.Duration // 0: defaultCleanupTimeout; < 0: unbounded
	stackDepth     int           // 0: defaultStackDepth; < 0: no stacks
	defaultHold    time.Duration // <= 0: none
	leakCheck      time.Duration // 0: defaultLeakCheckInterval; < 0: none
	leakSampling   int           // 0 or 1: every lifetime watched; < 0: leak detection off
	leakLog        time.Duration // 0: defaultLeakLogInterval; < 0: every record logged
	logger         *slog.Logger
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

// WithTracerProvider sets the provider of the Tracker's tracer. A nil
// provider is ignored: the Tracker then follows the global provider
// (otel.GetTracerProvider), including one set after New returns.
//
// With a provider from go.opentelemetry.io/otel/trace/noop no span is
// started at all: lifetimes are still tracked, released and reported to
// Live, Shutdown and CloseAll.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tp = tp
		}
	})
}

// WithMeterProvider sets the provider of the Tracker's meter. A nil
// provider is ignored: the Tracker then uses the global provider
// (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// WithCleanupTimeout bounds a release that runs on a detached context:
// Close or CloseAll called with a context that is already done,
// CloseOnCancel, ReleaseOnLeak. Zero selects the default, 10 seconds; a
// negative d leaves such releases unbounded (they get
// context.WithoutCancel of the done context, and nothing else).
func WithCleanupTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.cleanupTimeout = d })
}

// WithStackDepth sets how many frames of the acquire stack are kept
// (program counters, symbolized only when a lifetime is reported). Zero
// selects the default, 32; a negative n keeps no stack: leaks are still
// found and counted, without code.stacktrace. A value above 128 is
// clamped to 128.
func WithStackDepth(n int) Option {
	return optionFunc(func(c *config) { c.stackDepth = min(n, maxStackDepth) })
}

// WithLeakSampling makes leak detection — the runtime cleanup and the
// acquire stack, most of what a lifetime costs when nobody traces it —
// watch the first 16 acquisitions of every call site, then one in n
// (Netty's SIMPLE level). Zero or 1 watches every lifetime: the default.
// A negative n turns leak detection off: no runtime cleanup, no acquire
// stack; a lifetime that is never ended stays open, with its value, until
// CloseAll releases it or Shutdown reports it.
//
// A lifetime not watched is still registered, timed, counted and closable:
// it is in Live, ends with its outcome, is reported by Shutdown and
// released by CloseAll, and the metrics count it. What sampling gives up:
// a handle of an unwatched lifetime dropped without Close is not found. It
// stays open — in Live, in otelguard.lifetime.active, holding its value —
// until Shutdown reports it or CloseAll releases it; a steadily rising
// active count is the sign to look for. A site that leaks is still found,
// from its watched lifetimes: at once if it leaks from its first
// acquisitions, else after about n of them.
//
// A call site is told by the lifetime's kind, name and release function:
// a cleanup or release written as a function literal at the call site is
// a site of its own; sites that share a name and a named release function
// (or Track's Close) share their sampling. 4096 call sites are counted
// apart at once; a site past that takes the slot of an older one, whose
// count starts again at zero if it comes back, so "the first 16 of every
// site" holds at any number of sites (past the bound a site may be watched
// more, never less). See docs/PERFORMANCE.md for what it saves.
func WithLeakSampling(n int) Option {
	return optionFunc(func(c *config) { c.leakSampling = n })
}

// WithLeakCheckInterval bounds how long a dropped handle can go unfound in
// a process that does not allocate (an idle server, a test waiting on a
// hung pool): while the Tracker has open lifetimes under leak detection and
// no garbage collection has run for d, it runs one (runtime.GC, on a timer
// goroutine of its own), at most once per d, never while nothing is open.
// A leak is then found within about 2·d. The runtime itself collects only
// when the heap grows, and, after its first collection, at least every
// two minutes; before a first one, never. ReleaseOnLeak, too, waits for a
// collection.
//
// Zero selects defaultLeakCheckInterval (one minute); a negative d turns
// the check off. A busy process collects on its own and pays nothing but
// a look at the collection count per interval; an idle one pays one
// collection of its (small) heap per interval while something is open.
// Lifetimes acquired inside a testing/synctest bubble, whose clock is
// fake, arm no check.
func WithLeakCheckInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.leakCheck = d })
}

func (t *Tracker) leakCheckInterval() time.Duration {
	if t.cfg.leakCheck == 0 {
		return defaultLeakCheckInterval
	}
	return t.cfg.leakCheck
}

// WithDefaultHoldThreshold sets the hold threshold of every lifetime that
// does not set its own with WithHoldThreshold (HikariCP's
// leakDetectionThreshold): a lifetime still open after d is reported as
// held too long. Zero selects the default, which is no threshold; a
// negative d is no threshold too.
func WithDefaultHoldThreshold(d time.Duration) Option {
	return optionFunc(func(c *config) { c.defaultHold = d })
}

// WithLeakLogInterval bounds what the Tracker's logger writes about missed
// closes (leaked_without_close, open_at_shutdown, closed_by_context
// lifetimes) and what findings it emits: the first of a call
// site (the same acquire stack; without stacks, the same name and kind) is
// logged at once; the next ones are counted, and at the end of each
// interval d one record stands for those of the interval, with
// otelguard.repeats = their count (and the fields of the latest). After an
// interval with none, the next is logged at once again. A leak in a loop
// of a million is a record per interval, not a million. Findings are
// limited the same way, per call site and kind: one span per interval, the
// ones folded meanwhile counted in otelguard.repeats on the next (and in
// the otelguard.findings metric, each). Shutdown logs what it has counted,
// and emits a finding for each site with folded ones, before it returns.
// Zero selects the default, one minute; a negative d turns the limit off:
// every record is written and every finding emitted. 4096 call sites are
// limited apart at once; past that, sites share limits, their records
// folded together and counted, never dropped.
func WithLeakLogInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.leakLog = d })
}

// WithLogger sets the Tracker's logger, where every missed close reaches a
// person whatever the trace sampling: a Warn record for each lifetime that
// ends leaked_without_close, open_at_shutdown or closed_by_context (name,
// kind, outcome, age, the
// acquire stack one attribute per frame), bounded per call site by
// WithLeakLogInterval; a Warn record for a lifetime held past its hold
// threshold and an Info record when it comes back; a Warn record for a
// lifetime that outlived its Request. Each record's context carries the
// lifetime's span, sampled or not, so a handler that reads the trace
// context — the otelslog bridge, which sends the records through
// OpenTelemetry logs — ties it to the lifetime's trace. Nil (the default)
// logs nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// An AcquireOption configures one lifetime. It is a small value: passing
// options allocates nothing beyond what WithAttributes holds.
type AcquireOption struct {
	op      acquireOp
	tracker *Tracker
	attrs   []attribute.KeyValue
	d       time.Duration
	pkgs    []string
}

type acquireOp uint8

const (
	opNone acquireOp = iota
	opTracker
	opCloseOnCancel
	opReleaseOnLeak
	opAttributes
	opHold
	opCallerSkip
	opOutlivesRequest
	opSkipPackages
)

// acquireConfig is the resolved form of a list of AcquireOptions.
type acquireConfig struct {
	tracker       *Tracker
	closeOnCancel bool
	releaseOnLeak bool
	attrs         []attribute.KeyValue
	hold          time.Duration // 0: the tracker's default; <0: none
	callerSkip    int
	skipPkgs      []string
	outlives      bool // OutlivesRequest
}

func resolveAcquire(opts []AcquireOption) acquireConfig {
	var c acquireConfig
	for i := range opts {
		o := &opts[i]
		switch o.op {
		case opTracker:
			if o.tracker != nil {
				c.tracker = o.tracker
			}
		case opCloseOnCancel:
			c.closeOnCancel = true
		case opReleaseOnLeak:
			c.releaseOnLeak = true
		case opAttributes:
			if room := maxAttributes - len(c.attrs); room > 0 {
				add := o.attrs[:min(room, len(o.attrs)):min(room, len(o.attrs))]
				if c.attrs == nil {
					c.attrs = add // the one WithAttributes: no copy (begin only reads it)
				} else {
					c.attrs = append(c.attrs, add...) // add's capacity is its length: this copies
				}
			}
		case opHold:
			c.hold = o.d
		case opCallerSkip:
			c.callerSkip += int(o.d)
		case opOutlivesRequest:
			c.outlives = true
		case opSkipPackages:
			if c.skipPkgs == nil {
				c.skipPkgs = o.pkgs[:len(o.pkgs):len(o.pkgs)] // the one list: no copy (captureStack only reads it)
			} else {
				c.skipPkgs = append(c.skipPkgs, o.pkgs...) // capacity is length: this copies
			}
		}
	}
	return c
}

// WithTracker makes a package-level function (NewGuard, Acquire, Track,
// NewScope) use t, whatever Tracker the context carries. A nil t is
// ignored. Given to a Tracker method it is ignored: the receiver wins.
func WithTracker(t *Tracker) AcquireOption {
	return AcquireOption{op: opTracker, tracker: t}
}

// WithCallerSkip makes the acquire stack start n frames further out than
// the caller of Acquire, Track, NewGuard or NewScope: a helper that wraps
// them passes WithCallerSkip(1) so that reports, AcquireSite-style
// attributes and the live view name the helper's caller, as
// testing.TB.Helper does for test failures. Several add up; a negative n
// counts as zero.
func WithCallerSkip(n int) AcquireOption {
	if n < 0 {
		n = 0
	}
	return AcquireOption{op: opCallerSkip, d: time.Duration(n)}
}

// WithCallerSkipPackages makes the acquire stack start at the first frame
// (after WithCallerSkip's) whose function is in none of the packages pkgs,
// given as import paths: an integration that acquires from inside a
// library's code — a RoundTripper behind net/http's Client, a driver
// behind database/sql — names its own package and the library's, and
// reports name the code that called the library, however many of the
// library's frames are between. At most 32 leading frames are dropped.
// The function of each return address is looked up once per process.
func WithCallerSkipPackages(pkgs ...string) AcquireOption {
	return AcquireOption{op: opSkipPackages, pkgs: pkgs}
}

// CloseOnCancel hands the release to the context given at acquire: when
// that context is done, the release runs (trigger cancel) on the goroutine
// context.AfterFunc starts, on context.WithoutCancel of it bounded by the
// cleanup timeout (otelguard.cleanup.detached=true). An explicit Close,
// Run or Disarm before then stops the watch.
//
// With a context that can be done (ctx.Done() != nil) the context owns the
// release, so dropping the handle is not a leak: leak detection does not
// watch it, and the release runs when the context is done, whatever the
// collector did first. A context that is never done keeps the lifetime
// open until then (Live, the hold threshold and Shutdown show it). With a
// context that can never be done, CloseOnCancel changes nothing.
func CloseOnCancel() AcquireOption { return AcquireOption{op: opCloseOnCancel} }

// ReleaseOnLeak makes leak detection also run the release of a lifetime
// whose handle became unreachable, as an os.File closes its descriptor: on
// a goroutine of the library's own, on a detached context bounded by the
// cleanup timeout. The outcome stays leaked_without_close, with
// otelguard.leak.released=true. It needs leak detection (not
// WithLeakSampling(-1)). It holds after Shutdown too, whatever the program
// still references: a lifetime acquired before Shutdown keeps its leak
// detection until it ends, and one acquired after it (no span) still has
// its release run when its handle is dropped.
func ReleaseOnLeak() AcquireOption { return AcquireOption{op: opReleaseOnLeak} }

// WithHoldThreshold reports the lifetime as held too long if it is still
// open after d: a span event otelguard.hold.threshold_exceeded with the
// acquire stack, the otelguard.lifetime.held_too_long counter, and a Warn
// record through the Tracker's logger. When it finally ends, its span gets
// otelguard.hold.exceeded=true and, if it was released, an event
// otelguard.hold.returned_late and an Info record. It takes one runtime
// timer per lifetime. Zero selects the Tracker's default
// (WithDefaultHoldThreshold); a negative d means no threshold for this
// lifetime, whatever the Tracker's default.
func WithHoldThreshold(d time.Duration) AcquireOption {
	return AcquireOption{op: opHold, d: d}
}

// maxAttributes bounds the attributes WithAttributes adds to one lifetime:
// the first maxAttributes are kept. It leaves room, under the SDK's default
// span limit of 128 attributes, for the ones otelguard sets when the
// lifetime ends (outcome, trigger, durations, stack), which a full span
// would drop.
const maxAttributes = 64

// WithAttributes adds attributes to the lifetime's span when it starts; at
// most maxAttributes of them, in all, per lifetime. Keep values free of
// secrets and of the guarded value itself: otelguard never renders a value
// into an attribute.
func WithAttributes(kv ...attribute.KeyValue) AcquireOption {
	return AcquireOption{op: opAttributes, attrs: kv}
}

// OutlivesRequest says that a lifetime is meant to outlive the Request in
// its acquire context (a connection handed to a pool, a background job):
// Request.End does not report it.
func OutlivesRequest() AcquireOption { return AcquireOption{op: opOutlivesRequest} }
