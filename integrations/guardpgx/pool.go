package guardpgx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/semconv/v1.40.0/dbconv"
	"go.opentelemetry.io/otel/trace"
)

var now = time.Now

// acquireKey is the context key of an acquire in progress (an *acquire).
type acquireKey struct{}

// An acquire is a Pool.Acquire in progress.
type acquire struct {
	ps    *poolState
	start time.Time
}

// A checkout is a connection out of the pool, from its acquire to its
// release: a holder, for the pool's findings and metrics.
type checkout struct {
	ps     *poolState
	at     time.Time
	stack  pcStack
	pcs    []uintptr         // stack's frames from the user's call on
	parent trace.SpanContext // the span of the acquire's context
	held   *held             // the db.conn lifetime, for a checkout of the caller's own
	kind   atomic.Uint32     // a lifeKind: what holds the connection now
}

// name is the holder's name in a finding: db.conn for a checkout of the
// caller's own (Pool.Acquire, AcquireFunc), else the lifetime that holds
// the connection pgxpool checked out (db.rows of a Pool.Query, db.tx of a
// Pool.Begin, …), db.conn while none does (a Pool.Exec running).
func (co *checkout) name() string {
	if co.held != nil {
		return SpanConn
	}
	return kindNames[lifeKind(co.kind.Load())]
}

// poolState is what the tracer keeps per pool.
type poolState struct {
	pool     *pgxpool.Pool
	name     string
	maxConns int
	pending  atomic.Int64
	attrs    metric.MeasurementOption // db.client.connection.pool.name

	mu         sync.Mutex
	holders    map[*checkout]struct{}
	lastReport time.Time // of the last finding
	unreported int64     // failed acquires not reported since
}

// poolState returns pool's state, making it (and registering the pool's
// observed metrics) the first time the pool is seen: at its first
// acquire. pgx gives a tracer no earlier look at the pool.
func (t *tracer) poolState(pool *pgxpool.Pool) *poolState {
	if ps, ok := t.pools.Load(pool); ok {
		return ps.(*poolState)
	}
	ps := &poolState{
		pool:     pool,
		name:     t.poolName,
		maxConns: int(pool.Stat().MaxConns()),
		attrs:    metric.WithAttributeSet(attribute.NewSet(semconv.DBClientConnectionPoolName(t.poolName))),
		holders:  make(map[*checkout]struct{}),
	}
	if got, loaded := t.pools.LoadOrStore(pool, ps); loaded {
		return got.(*poolState)
	}
	t.meters.observe(ps)
	return ps
}

func (ps *poolState) add(co *checkout) {
	ps.mu.Lock()
	ps.holders[co] = struct{}{}
	ps.mu.Unlock()
}

func (ps *poolState) remove(co *checkout) {
	ps.mu.Lock()
	delete(ps.holders, co)
	ps.mu.Unlock()
}

// meters are the pool metrics of the semantic conventions (v1.40.0).
type meters struct {
	meter    metric.Meter
	wait     metric.Float64Histogram
	use      metric.Float64Histogram
	timeouts metric.Int64Counter
	count    metric.Int64ObservableUpDownCounter
	max      metric.Int64ObservableUpDownCounter
	pending  metric.Int64ObservableUpDownCounter
}

// newMeters makes the instruments; one the provider refuses is a no-op,
// reported through otel.Handle by the provider.
func newMeters(mp metric.MeterProvider) *meters {
	m := &meters{meter: mp.Meter(ScopeName)}
	wait, _ := dbconv.NewClientConnectionWaitTime(m.meter)
	use, _ := dbconv.NewClientConnectionUseTime(m.meter)
	timeouts, _ := dbconv.NewClientConnectionTimeouts(m.meter)
	m.wait, m.use, m.timeouts = wait.Inst(), use.Inst(), timeouts.Inst()
	m.count = m.observable(dbconv.ClientConnectionCount{})
	m.max = m.observable(dbconv.ClientConnectionMax{})
	m.pending = m.observable(dbconv.ClientConnectionPendingRequests{})
	return m
}

type semconvInstrument interface {
	Name() string
	Unit() string
	Description() string
}

// observable makes the observed form of a semantic-conventions
// UpDownCounter: pgxpool keeps the counts; they are read when collected.
func (m *meters) observable(s semconvInstrument) metric.Int64ObservableUpDownCounter {
	i, _ := m.meter.Int64ObservableUpDownCounter(s.Name(), metric.WithUnit(s.Unit()), metric.WithDescription(s.Description()))
	return i
}

// observe registers ps's observed metrics: connections by state (from
// pgxpool's Stat: idle, and acquired as used; connections being opened
// are in neither), the most connections, and the acquires in progress
// (the tracer's own count). The registration lasts as long as the
// process: pgx tells a tracer nothing when a pool is closed, and a closed
// pool reads 0 connections.
func (m *meters) observe(ps *poolState) {
	name := semconv.DBClientConnectionPoolName(ps.name)
	idle := metric.WithAttributeSet(attribute.NewSet(name, semconv.DBClientConnectionStateIdle))
	used := metric.WithAttributeSet(attribute.NewSet(name, semconv.DBClientConnectionStateUsed))
	_, _ = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := ps.pool.Stat()
		o.ObserveInt64(m.count, int64(s.IdleConns()), idle)
		o.ObserveInt64(m.count, int64(s.AcquiredConns()), used)
		o.ObserveInt64(m.max, int64(s.MaxConns()), ps.attrs)
		o.ObserveInt64(m.pending, ps.pending.Load(), ps.attrs)
		return nil
	}, m.count, m.max, m.pending)
}

func (m *meters) recordWait(ctx context.Context, ps *poolState, d time.Duration) {
	m.wait.Record(ctx, d.Seconds(), ps.attrs)
}

func (m *meters) recordUse(ps *poolState, d time.Duration) {
	m.use.Record(context.Background(), d.Seconds(), ps.attrs)
}

func (m *meters) recordTimeout(ctx context.Context, ps *poolState) {
	m.timeouts.Add(ctx, 1, ps.attrs)
}
