package guardpgx_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const poolFile = "pool_test.go"

// findings records the finding spans and records of a pool, and the
// attributes its sampler was shown at each span's start.
type findings struct {
	spans   *tracetest.SpanRecorder
	log     *syncBuffer
	opts    []guardpgx.Option
	sampler *seeingSampler
}

// seeingSampler samples everything and keeps the attributes it was given.
type seeingSampler struct {
	mu    sync.Mutex
	attrs [][]attribute.KeyValue
}

func (s *seeingSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	s.mu.Lock()
	s.attrs = append(s.attrs, append([]attribute.KeyValue(nil), p.Attributes...))
	s.mu.Unlock()
	return sdktrace.AlwaysSample().ShouldSample(p)
}

func (s *seeingSampler) Description() string { return "seeingSampler" }

// saw reports whether the sampler was shown key=value at some start.
func (s *seeingSampler) saw(key, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, as := range s.attrs {
		for _, kv := range as {
			if string(kv.Key) == key && kv.Value.String() == value {
				return true
			}
		}
	}
	return false
}

func newFindings(t testing.TB) *findings {
	sr := tracetest.NewSpanRecorder()
	ss := &seeingSampler{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(ss))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f := &findings{spans: sr, log: &syncBuffer{}, sampler: ss}
	f.opts = []guardpgx.Option{
		guardpgx.WithTracerProvider(tp),
		guardpgx.WithLogger(slog.New(slog.NewTextHandler(f.log, nil))),
		guardpgx.WithFindingInterval(-1),
	}
	return f
}

func (f *findings) ended() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range f.spans.Ended() {
		if s.Name() == guardpgx.FindingSpanName {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestPoolExhausted: a pool of two held by a checkout and by open rows;
// the third acquire times out, and its pool_exhausted finding names both
// holders with their ages and the lines that took them.
func TestPoolExhausted(t *testing.T) {
	rec := newRecorder(t)
	f := newFindings(t)
	pool := newPool(t, 2, nil, append(f.opts, guardpgx.WithPoolName("items"))...)
	tp := sdktrace.NewTracerProvider()
	reqCtx, reqSpan := tp.Tracer("test").Start(rec.ctx(t), "GET /items")
	defer reqSpan.End()

	c, err := pool.Acquire(reqCtx) // holder 1
	connAt := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	rows, err := pool.Query(reqCtx, "select 1") // holder 2
	rowsAt := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	ctx, cancel := context.WithTimeout(reqCtx, 50*time.Millisecond)
	defer cancel()
	if _, err := pool.Acquire(ctx); err == nil {
		t.Fatal("a third acquire from a pool of two succeeded")
	}

	fs := f.ended()
	if len(fs) != 1 {
		t.Fatalf("%d finding spans, want 1", len(fs))
	}
	s := fs[0]
	if s.Parent().IsValid() {
		t.Errorf("the finding has a parent %v; it must be a root", s.Parent())
	}
	for key, want := range map[string]string{
		"otelguard.finding":              "pool_exhausted",
		"otelguard.name":                 "items",
		"otelguard.kind":                 "resource",
		"db.client.connection.pool.name": "items",
		"db.system.name":                 "postgresql",
		"error.type":                     "timeout",
		"otelguard.holders":              "2",
	} {
		if v, ok := spanAttr(s, key); !ok || v.String() != want {
			t.Errorf("%s = %q (present %v), want %q", key, v.String(), ok, want)
		}
	}
	for _, kv := range [][2]string{{"otelguard.finding", "pool_exhausted"}, {"otelguard.holders", "2"}, {"otelguard.name", "items"}} {
		if !f.sampler.saw(kv[0], kv[1]) {
			t.Errorf("the sampler was not shown %s=%s at the finding's start", kv[0], kv[1])
		}
	}
	hn, _ := spanAttr(s, "otelguard.holder.names")
	if got := hn.AsStringSlice(); !slices.Equal(got, []string{guardpgx.SpanConn, guardpgx.SpanRows}) {
		t.Errorf("holder names %v, want [db.conn db.rows], oldest first", got)
	}
	ha, _ := spanAttr(s, "otelguard.holder.ages_ms")
	if ages := ha.AsFloat64Slice(); len(ages) != 2 || ages[0] < ages[1] || ages[1] < 50 {
		t.Errorf("holder ages %v ms: want two, oldest first, each at least the 50ms waited", ages)
	}
	st, _ := spanAttr(s, "code.stacktrace")
	stacks := st.AsString()
	for _, want := range []string{
		"holder 1 of 2: db.conn, held ", "holder 2 of 2: db.rows, held ",
		"guardpgx_test.TestPoolExhausted(...)\n\t" + site(connAt) + "\n",
		"guardpgx_test.TestPoolExhausted(...)\n\t" + site(rowsAt) + "\n",
	} {
		if !strings.Contains(stacks, want) {
			t.Errorf("code.stacktrace lacks %q:\n%s", want, stacks)
		}
	}
	if first := strings.SplitN(strings.SplitN(stacks, "acquired at:\n", 2)[1], "\n", 2)[0]; first != "github.com/otelguard/otelguard-go/integrations/guardpgx_test.TestPoolExhausted(...)" {
		t.Errorf("holder 1's stack starts at %q, want the test (pgx's and guardpgx's frames skipped)", first)
	}
	var holderLinks, waiterLinks int
	for _, l := range s.Links() {
		kind := ""
		for _, kv := range l.Attributes {
			if kv.Key == "otelguard.link" {
				kind = kv.Value.AsString()
			}
		}
		if l.SpanContext.TraceID() != reqSpan.SpanContext().TraceID() {
			t.Errorf("link to trace %v, want the request's %v", l.SpanContext.TraceID(), reqSpan.SpanContext().TraceID())
		}
		switch kind {
		case "holder":
			holderLinks++
		case "waiter":
			waiterLinks++
		}
	}
	if holderLinks != 2 || waiterLinks != 1 {
		t.Errorf("links: %d holder, %d waiter; want 2 and 1", holderLinks, waiterLinks)
	}
	if !logHas(f.log.String(), "level=WARN", "pool_exhausted", "otelguard.holders=2",
		"holder.0.name=db.conn", "holder.1.name=db.rows",
		fmt.Sprintf("holder.0.code.stacktrace.0=\"github.com/otelguard/otelguard-go/integrations/guardpgx_test.TestPoolExhausted %s\"", site(connAt)),
		fmt.Sprintf("holder.1.code.stacktrace.0=\"github.com/otelguard/otelguard-go/integrations/guardpgx_test.TestPoolExhausted %s\"", site(rowsAt))) {
		t.Errorf("no Warn record naming the holders:\n%s", f.log)
	}
}

// TestPoolNotExhausted: an acquire whose context is already done, on a
// pool with room, fails without a finding; a closed pool's acquire is
// reported.
func TestPoolNotExhausted(t *testing.T) {
	f := newFindings(t)
	pool := newPool(t, 2, nil, f.opts...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pool.Acquire(ctx); err == nil {
		t.Fatal("an acquire with a cancelled context succeeded")
	}
	if fs := f.ended(); len(fs) != 0 {
		t.Fatalf("%d findings for a pool with room", len(fs))
	}
	pool.Close()
	if _, err := pool.Acquire(context.Background()); err == nil {
		t.Fatal("an acquire from a closed pool succeeded")
	}
	fs := f.ended()
	if len(fs) != 1 {
		t.Fatalf("%d findings for a closed pool, want 1", len(fs))
	}
	if v, _ := spanAttr(fs[0], "error.type"); v.AsString() != "closed_pool" {
		t.Errorf("error.type %q, want closed_pool", v.AsString())
	}
}

// TestFindingInterval: failed acquires within the interval are counted
// and reported with the next finding as otelguard.repeats.
func TestFindingInterval(t *testing.T) {
	f := newFindings(t)
	opts := append(f.opts[:len(f.opts):len(f.opts)], guardpgx.WithFindingInterval(time.Hour))
	pool := newPool(t, 1, nil, opts...)
	c, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err := pool.Acquire(ctx)
		cancel()
		if err == nil {
			t.Fatal("acquired from an exhausted pool")
		}
	}
	if fs := f.ended(); len(fs) != 1 {
		t.Fatalf("%d findings within an interval of an hour, want 1", len(fs))
	}
}

// TestFindingRepeats: the finding after an interval counts the failed
// acquires of the interval before it.
func TestFindingRepeats(t *testing.T) {
	f := newFindings(t)
	opts := append(f.opts[:len(f.opts):len(f.opts)], guardpgx.WithFindingInterval(200*time.Millisecond))
	pool := newPool(t, 1, nil, opts...)
	c, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	fail := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if _, err := pool.Acquire(ctx); err == nil {
			t.Fatal("acquired from an exhausted pool")
		}
	}
	fail() // reported at once
	fail() // within the interval, most likely; counted either way
	attempts := 2
	waitFor(t, "a second finding", func() bool {
		fail()
		attempts++
		return len(f.ended()) == 2
	})
	fs := f.ended()
	if _, ok := spanAttr(fs[0], "otelguard.repeats"); ok {
		t.Errorf("the first finding has otelguard.repeats")
	}
	r, _ := spanAttr(fs[1], "otelguard.repeats")
	if got := r.AsInt64(); got < 1 || got != int64(attempts-2) {
		t.Errorf("otelguard.repeats = %d, want the %d failed acquires between the two findings", got, attempts-2)
	}
}

// TestCheckoutHeldPastThreshold: a checkout held past the threshold is
// reported while it is held, naming Acquire's line; it comes back late.
func TestCheckoutHeldPastThreshold(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil, guardpgx.WithHoldThreshold(20*time.Millisecond))
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t))
	c, err := pool.Acquire(ctx)
	at := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release() // should the test fail first
	re := firstFrame("TestCheckoutHeldPastThreshold", poolFile, at)
	waitFor(t, "the held-too-long record", func() bool {
		return logHas(rec.log.String(), "held too long") && re.MatchString(rec.log.String())
	})
	if out := req.End(); !slices.Equal(names(out), []string{guardpgx.SpanConn}) {
		t.Errorf("Request.End: %v, want [db.conn]", names(out))
	}
	c.Release()
	l := rec.one(t, guardpgx.SpanConn)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
	wantAttr(t, l, "db.client.connection.pool.name", fmt.Sprintf("127.0.0.1:%d/postgres", postgres(t).Port))
	if !hasEvent(l, "otelguard.hold.threshold_exceeded") || !hasEvent(l, "otelguard.hold.returned_late") {
		t.Errorf("events %v, want the threshold's and the late return's", l.Span.Events)
	}
}

// TestAcquireFunc: AcquireFunc's checkout is the caller's: a db.conn.
func TestAcquireFunc(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	if err := pool.AcquireFunc(rec.ctx(t), func(c *pgxpool.Conn) error {
		_, err := c.Exec(context.Background(), "select 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantEnd(t, rec.one(t, guardpgx.SpanConn), otelguard.OutcomeCleaned, otelguard.TriggerClose)
}

// TestPoolMetrics: the semantic conventions' pool metrics, read from
// pgxpool's statistics and the checkouts.
func TestPoolMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	pool := newPool(t, 2, nil, guardpgx.WithMeterProvider(mp), guardpgx.WithPoolName("m"),
		guardpgx.WithLogger(slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	c2, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2.Release()
	c3, err := pool.Acquire(ctx) // the idle one
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := pool.Acquire(tctx); err == nil {
		t.Fatal("acquired from an exhausted pool")
	}
	c3.Release()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != guardpgx.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if v, ok := p.Attributes.Value("db.client.connection.pool.name"); !ok || v.AsString() != "m" {
						t.Errorf("%s without the pool's name: %v", m.Name, p.Attributes)
					}
					key := m.Name
					if st, ok := p.Attributes.Value("db.client.connection.state"); ok {
						key += "/" + st.AsString()
					}
					got[key] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name] = float64(p.Count)
				}
			}
		}
	}
	want := map[string]float64{
		"db.client.connection.count/used":       1, // c
		"db.client.connection.count/idle":       1, // c2, then c3
		"db.client.connection.max":              2,
		"db.client.connection.pending_requests": 0,
		"db.client.connection.timeouts":         1,
		"db.client.connection.wait_time":        3, // successful acquires
		"db.client.connection.use_time":         2, // c2 and c3 released
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	c.Release()
}

// TestPendingRequests: an acquire waiting for a connection counts as a
// pending request while it waits.
func TestPendingRequests(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	pool := newPool(t, 1, nil, guardpgx.WithMeterProvider(mp))
	c, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	got := make(chan *pgxpool.Conn, 1)
	go func() {
		w, err := pool.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- w
	}()
	pending := func() int64 {
		var rm metricdata.ResourceMetrics
		_ = reader.Collect(context.Background(), &rm)
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == "db.client.connection.pending_requests" {
					return m.Data.(metricdata.Sum[int64]).DataPoints[0].Value
				}
			}
		}
		return -1
	}
	waitFor(t, "one pending request", func() bool { return pending() == 1 })
	c.Release()
	(<-got).Release()
	if p := pending(); p != 0 {
		t.Errorf("pending_requests %d after the acquire, want 0", p)
	}
}
