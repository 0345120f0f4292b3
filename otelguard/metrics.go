package otelguard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// The metric instruments (names in internal/attrkey, documented in the
// package documentation's metrics table) carry otelguard.kind and
// otelguard.name (the lifetime's name: keep it low-cardinality, as a span
// name should be); those recorded when a lifetime ends also carry
// otelguard.outcome. Counts do not depend on trace sampling.

// Histogram bucket boundaries, seconds: cleanups from 100µs to a minute;
// lifetimes from 100µs to an hour.
var (
	cleanupBuckets  = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	lifetimeBuckets = []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600}
)

// meters holds a Tracker's instruments, created once, and the attribute
// sets of the (name, kind) pairs seen, so that recording allocates nothing.
type meters struct {
	active   metric.Int64UpDownCounter
	ended    metric.Int64Counter
	cleanup  metric.Float64Histogram
	lifetime metric.Float64Histogram
	misuse   metric.Int64Counter
	held     metric.Int64Counter
	outlived metric.Int64Counter
	missed   metric.Int64Counter

	// The attribute cache is copy-on-write: readers load a map and never
	// lock; a new (name, kind) pair copies it under mu. It stops growing
	// at maxCachedNames pairs; beyond that every record builds its sets.
	cache atomic.Pointer[map[nameKind]*metricAttrs]
	mu    sync.Mutex
}

const maxCachedNames = 1024

type nameKind struct {
	name string
	kind kind
}

// metricAttrs are the measurement options of one (name, kind) pair: the
// base set {kind, name} and one set per outcome.
type metricAttrs struct {
	name      string
	kind      kind
	base      []metric.AddOption
	byOutcome [numOutcomes]struct {
		add []metric.AddOption
		rec []metric.RecordOption
	}
}

// Outcomes as indexes.
const (
	oCleaned = iota
	oDisarmed
	oFailed
	oTimedOut
	oLeaked
	oOpenAtShutdown
	numOutcomes
)

var outcomeList = [numOutcomes]Outcome{OutcomeCleaned, OutcomeDisarmed, OutcomeFailed, OutcomeTimedOut, OutcomeLeaked, OutcomeOpenAtShutdown}

func outcomeIndex(o Outcome) int {
	for i, x := range outcomeList {
		if x == o {
			return i
		}
	}
	return oFailed
}

func newMetricAttrs(name string, k kind) *metricAttrs {
	m := &metricAttrs{name: name, kind: k}
	kv := [3]attribute.KeyValue{kindAttrs[k], attrkey.Name.String(name)}
	m.base = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv[:2]...))}
	for i, o := range outcomeList {
		kv[2] = attrkey.Outcome.String(string(o))
		opt := metric.WithAttributeSet(attribute.NewSet(kv[:]...))
		m.byOutcome[i].add = []metric.AddOption{opt}
		m.byOutcome[i].rec = []metric.RecordOption{opt}
	}
	return m
}

// newMeters creates the instruments, or returns nil when mp is a noop
// provider: then nothing is measured at all.
func newMeters(mp metric.MeterProvider) *meters {
	switch mp.(type) {
	case metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return nil
	}
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(version))
	m := &meters{}
	var err error
	handle := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	var e error
	m.active, e = meter.Int64UpDownCounter(attrkey.MetricActive, metric.WithUnit("{lifetime}"),
		metric.WithDescription("Guarded lifetimes open now (acquired and not yet ended)."))
	handle(e)
	m.ended, e = meter.Int64Counter(attrkey.MetricEnded, metric.WithUnit("{lifetime}"),
		metric.WithDescription("Guarded lifetimes ended, by outcome."))
	handle(e)
	m.cleanup, e = meter.Float64Histogram(attrkey.MetricCleanupDuration, metric.WithUnit("s"),
		metric.WithDescription("Time a release function ran."),
		metric.WithExplicitBucketBoundaries(cleanupBuckets...))
	handle(e)
	m.lifetime, e = meter.Float64Histogram(attrkey.MetricLifetimeDuration, metric.WithUnit("s"),
		metric.WithDescription("Time from acquire to the end of a guarded lifetime."),
		metric.WithExplicitBucketBoundaries(lifetimeBuckets...))
	handle(e)
	m.misuse, e = meter.Int64Counter(attrkey.MetricMisuse, metric.WithUnit("{misuse}"),
		metric.WithDescription("Misuses of guarded lifetimes, such as use after close."))
	handle(e)
	m.held, e = meter.Int64Counter(attrkey.MetricHeldTooLong, metric.WithUnit("{lifetime}"),
		metric.WithDescription("Guarded lifetimes still open after their hold threshold."))
	handle(e)
	m.missed, e = meter.Int64Counter(attrkey.MetricMissedClose, metric.WithUnit("{lifetime}"),
		metric.WithDescription("Guarded lifetimes their owner never ended: leaked, open at shutdown, or closed because a context ended."))
	handle(e)
	m.outlived, e = meter.Int64Counter(attrkey.MetricOutlivedRequest, metric.WithUnit("{lifetime}"),
		metric.WithDescription("Guarded lifetimes still open when the request they were acquired under ended."))
	handle(e)
	if err != nil {
		// Instruments returned with an error are still usable (the API
		// guarantees a working instrument); say what went wrong once.
		otel.Handle(err)
	}
	empty := map[nameKind]*metricAttrs{}
	m.cache.Store(&empty)
	return m
}

// attrsFor returns the cached sets of (name, k), creating them if needed.
func (m *meters) attrsFor(name string, k kind) *metricAttrs {
	key := nameKind{name, k}
	if a := (*m.cache.Load())[key]; a != nil {
		return a
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.cache.Load()
	if a := cur[key]; a != nil {
		return a
	}
	a := newMetricAttrs(name, k)
	if len(cur) >= maxCachedNames {
		return a // not cached: too many names
	}
	next := make(map[nameKind]*metricAttrs, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[key] = a
	m.cache.Store(&next)
	return a
}

// metrics returns the Tracker's instruments, or nil when it measures
// nothing. A Tracker made by New resolved them there (and spent its
// meterOnce); the zero Tracker resolves them on first use, from the
// global provider.
func (t *Tracker) metrics() *meters {
	t.meterOnce.Do(func() { t.meters = newMeters(otel.GetMeterProvider()) })
	return t.meters
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// recordStart counts an acquired lifetime as active.
func (m *meters) recordStart(ctx context.Context, a *metricAttrs) {
	m.active.Add(ctx, 1, a.base...)
}

// recordFinish counts a lifetime leaving Live.
func (m *meters) recordFinish(a *metricAttrs) {
	m.active.Add(context.Background(), -1, a.base...)
}

// recordEnd counts an outcome, with the lifetime's duration (when it is
// known: life >= 0) and, when a release ran (cleanup >= 0), its duration.
func (m *meters) recordEnd(ctx context.Context, a *metricAttrs, o Outcome, life, cleanup time.Duration) {
	oa := &a.byOutcome[outcomeIndex(o)]
	m.ended.Add(ctx, 1, oa.add...)
	if life >= 0 {
		m.lifetime.Record(ctx, seconds(life), oa.rec...)
	}
	if cleanup >= 0 {
		m.cleanup.Record(ctx, seconds(cleanup), oa.rec...)
	}
}

func (m *meters) recordMisuse(a *metricAttrs, kind string) {
	m.misuse.Add(context.Background(), 1, metric.WithAttributes(
		kindAttrs[a.kind], attrkey.Name.String(a.name), attrkey.MisuseKind.String(kind)))
}

func (m *meters) recordOutlived(a *metricAttrs, attrs []attribute.KeyValue) {
	kv := make([]attribute.KeyValue, 0, 2+len(attrs))
	kv = append(kv, kindAttrs[a.kind], attrkey.Name.String(a.name))
	m.outlived.Add(context.Background(), 1, metric.WithAttributes(append(kv, attrs...)...))
}

func (m *meters) recordMissed(ctx context.Context, a *metricAttrs) {
	m.missed.Add(ctx, 1, a.base...)
}

func (m *meters) recordHeld(a *metricAttrs) {
	m.held.Add(context.Background(), 1, a.base...)
}
