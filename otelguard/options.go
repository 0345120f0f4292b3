package otelguard

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of a Tracker's configuration.
const (
	// DefaultCleanupTimeout bounds a release that runs on a detached
	// context (see WithCleanupTimeout).
	DefaultCleanupTimeout = 10 * time.Second
	// DefaultStackDepth is how many frames of an acquire stack are kept.
	DefaultStackDepth = 32
	// MaxStackDepth is the most frames WithStackDepth keeps; larger values
	// are clamped to it.
	MaxStackDepth = 128
)

// LeakDetection is how much work a Tracker does to find lifetimes whose
// handle was dropped without being closed, run or disarmed. Levels compare
// in order of the work they do: LeakDetectionOff < LeakDetectionOn <
// LeakDetectionStacks < LeakDetectionParanoid. The zero value is
// LeakDetectionStacks, the default.
type LeakDetection int

const (
	// LeakDetectionOff attaches nothing. A lifetime that is never ended
	// stays registered with its value until CloseAll releases it or
	// Shutdown reports it; use Off only where every lifetime is ended.
	LeakDetectionOff LeakDetection = iota - 2
	// LeakDetectionOn attaches a runtime cleanup but captures no stack:
	// leaks are found and counted, without code.stacktrace.
	LeakDetectionOn
	// LeakDetectionStacks (the zero value and the default) attaches a
	// runtime cleanup to every handle and captures the acquire stack
	// (program counters only; they are symbolized when a leak or an open
	// lifetime is reported).
	LeakDetectionStacks
	// LeakDetectionParanoid is LeakDetectionStacks, plus: Resource.Touch
	// records access points (reported with a leak as
	// otelguard.access_records), and every lifetime span carries its
	// acquire site (code.function.name, code.file.path, code.line.number).
	// It costs a symbolization per call site and an allocation per Touch.
	LeakDetectionParanoid
)

// String returns the level's name.
func (l LeakDetection) String() string {
	switch l {
	case LeakDetectionStacks:
		return "stacks"
	case LeakDetectionOff:
		return "off"
	case LeakDetectionOn:
		return "on"
	case LeakDetectionParanoid:
		return "paranoid"
	}
	return "LeakDetection(" + itoa(int64(l)) + ")"
}

// An Option configures a Tracker. Options are applied by New in order; a
// later option overrides an earlier one.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is a Tracker's configuration, resolved once by New.
type config struct {
	set            bool // made by newConfig; false in a zero Tracker
	tp             trace.TracerProvider
	mp             metric.MeterProvider
	leak           LeakDetection
	cleanupTimeout time.Duration
	stackDepth     int
	defaultHold    time.Duration
	leakCheck      time.Duration // 0: DefaultLeakCheckInterval; < 0: none
	leakSampling   int           // <= 1: every lifetime watched
	leakLog        time.Duration // <= 0: DefaultLeakLogInterval
	logger         *slog.Logger
	trim           []string
}

func newConfig(opts []Option) config {
	c := config{
		set:            true,
		leak:           LeakDetectionStacks,
		cleanupTimeout: DefaultCleanupTimeout,
		stackDepth:     DefaultStackDepth,
	}
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

// WithLeakDetection sets the leak detection level. A value that is not
// one of the LeakDetection constants selects the default,
// LeakDetectionStacks.
func WithLeakDetection(l LeakDetection) Option {
	return optionFunc(func(c *config) {
		switch l {
		case LeakDetectionStacks, LeakDetectionOff, LeakDetectionOn, LeakDetectionParanoid:
			c.leak = l
		default:
			c.leak = LeakDetectionStacks
		}
	})
}

// WithCleanupTimeout bounds a release that runs on a detached context:
// Close or CloseAll called with a context that is already done,
// CloseOnCancel, ReleaseOnLeak. A duration that is zero or negative
// selects DefaultCleanupTimeout.
func WithCleanupTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			d = DefaultCleanupTimeout
		}
		c.cleanupTimeout = d
	})
}

// WithStackDepth sets how many frames of the acquire stack are kept. Zero
// keeps none (as LeakDetectionOn does); a negative value selects
// DefaultStackDepth; a value above MaxStackDepth is clamped to it.
func WithStackDepth(n int) Option {
	return optionFunc(func(c *config) {
		switch {
		case n < 0:
			n = DefaultStackDepth
		case n > MaxStackDepth:
			n = MaxStackDepth
		}
		c.stackDepth = n
	})
}

// WithLeakSampling makes leak detection — the runtime cleanup and the
// acquire stack, most of what a lifetime costs when nobody traces it —
// watch the first 16 acquisitions of every call site, then one in n
// (Netty's SIMPLE level). n <= 1 watches every lifetime: the default.
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
// (or Track's Close) share their sampling. See docs/PERFORMANCE.md for
// what it saves.
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
// Zero selects DefaultLeakCheckInterval (one minute); a negative d turns
// the check off. A busy process collects on its own and pays nothing but
// a look at the collection count per interval; an idle one pays one
// collection of its (small) heap per interval while something is open.
// Lifetimes acquired inside a testing/synctest bubble, whose clock is
// fake, arm no check.
func WithLeakCheckInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			d = -1
		}
		c.leakCheck = d
	})
}

func (t *Tracker) leakCheckInterval() time.Duration {
	if t.cfg.leakCheck == 0 {
		return DefaultLeakCheckInterval
	}
	return t.cfg.leakCheck
}

// WithDefaultHoldThreshold sets the hold threshold of every lifetime that
// does not set its own with WithHoldThreshold (HikariCP's
// leakDetectionThreshold): a lifetime still open after d is reported as
// held too long. Zero or negative: no threshold (the default).
func WithDefaultHoldThreshold(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			d = 0
		}
		c.defaultHold = d
	})
}

// WithTrimPaths cuts build paths from the file names in rendered stacks
// (code.stacktrace, LeakRecord.Stack, LiveLifetime.Stack), as -trimpath
// does for a binary: the first of prefixes that a file name starts with is
// removed. With no prefixes it removes GOROOT's src directory, the module
// cache (GOMODCACHE, or GOPATH's pkg/mod) and the working directory at the
// time of the call, each with its trailing slash.
func WithTrimPaths(prefixes ...string) Option {
	if len(prefixes) == 0 {
		prefixes = defaultTrimPaths()
	}
	var clean []string
	for _, p := range prefixes {
		if p != "" {
			clean = append(clean, p)
		}
	}
	return optionFunc(func(c *config) { c.trim = clean })
}

func defaultTrimPaths() []string {
	var ps []string
	if src := goSrcDir(); src != "" {
		ps = append(ps, src)
	}
	if mc := os.Getenv("GOMODCACHE"); mc != "" {
		ps = append(ps, filepath.ToSlash(mc)+"/")
	} else if gp := os.Getenv("GOPATH"); gp != "" {
		ps = append(ps, filepath.ToSlash(filepath.Join(gp, "pkg", "mod"))+"/")
	} else if home, err := os.UserHomeDir(); err == nil {
		ps = append(ps, filepath.ToSlash(filepath.Join(home, "go", "pkg", "mod"))+"/")
	}
	if wd, err := os.Getwd(); err == nil {
		ps = append(ps, filepath.ToSlash(wd)+"/")
	}
	return ps
}

// goSrcDir is GOROOT/src/ as the binary was built: the directory that file
// names of standard-library frames start with.
func goSrcDir() string {
	f := runtime.FuncForPC(reflect.ValueOf(runtime.Callers).Pointer())
	if f == nil {
		return ""
	}
	file, _ := f.FileLine(f.Entry())
	if i := strings.LastIndex(file, "/runtime/"); i >= 0 {
		return file[:i+1]
	}
	return ""
}

// WithLogger sets the Tracker's logger, where every leak reaches a person
// whatever the trace sampling: a Warn record for each lifetime that ends
// leaked_without_close or open_at_shutdown (name, kind, outcome, age, the
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
			if room := MaxAttributes - len(c.attrs); room > 0 {
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
// LeakDetectionOff).
func ReleaseOnLeak() AcquireOption { return AcquireOption{op: opReleaseOnLeak} }

// WithHoldThreshold reports the lifetime as held too long if it is still
// open after d: a span event otelguard.hold.threshold_exceeded with the
// acquire stack, the otelguard.lifetime.held_too_long counter, and a Warn
// record through the Tracker's logger. When it finally ends, its span gets
// otelguard.hold.exceeded=true and, if it was released, an event
// otelguard.hold.returned_late and an Info record. It takes one runtime
// timer per lifetime; zero or negative d means no threshold for this
// lifetime, whatever the Tracker's default.
func WithHoldThreshold(d time.Duration) AcquireOption {
	if d <= 0 {
		d = -1
	}
	return AcquireOption{op: opHold, d: d}
}

// MaxAttributes bounds the attributes WithAttributes adds to one lifetime:
// the first MaxAttributes are kept. It leaves room, under the SDK's default
// span limit of 128 attributes, for the ones otelguard sets when the
// lifetime ends (outcome, trigger, durations, stack), which a full span
// would drop.
const MaxAttributes = 64

// WithAttributes adds attributes to the lifetime's span when it starts; at
// most MaxAttributes of them, in all, per lifetime. Keep values free of
// secrets and of the guarded value itself: otelguard never renders a value
// into an attribute.
func WithAttributes(kv ...attribute.KeyValue) AcquireOption {
	return AcquireOption{op: opAttributes, attrs: kv}
}
