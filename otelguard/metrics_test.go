package otelguard_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// metricHarness is a harness whose tracker also measures into a ManualReader.
type metricHarness struct {
	*harness
	reader *sdkmetric.ManualReader
}

func newMetricHarness(t testing.TB, opts ...otelguard.Option) *metricHarness {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(boundedCtx()) })
	h := newHarness(t, append([]otelguard.Option{otelguard.WithMeterProvider(mp)}, opts...)...)
	return &metricHarness{harness: h, reader: reader}
}

func (m *metricHarness) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelguard.ScopeName || sm.Scope.Version != "0.1.0" {
			t.Errorf("scope %+v", sm.Scope)
		}
		for _, mt := range sm.Metrics {
			out[mt.Name] = mt
		}
	}
	return out
}

func set(kv ...attribute.KeyValue) attribute.Set { return attribute.NewSet(kv...) }

func sumPoint[N int64 | float64](t testing.TB, m metricdata.Metrics, want attribute.Set) (N, bool) {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[N])
	if !ok {
		t.Fatalf("%s is %T, not a Sum", m.Name, m.Data)
	}
	for _, dp := range s.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value, true
		}
	}
	return 0, false
}

func TestMetricsCountLifetimes(t *testing.T) {
	h := newMetricHarness(t)
	ctx := context.Background()
	r := otelguard.Acquire(ctx, "db.conn", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
	g := otelguard.NewGuard(ctx, "tx", nop, otelguard.WithTracker(h.tr))

	base := set(attrkey.Kind.String("resource"), attrkey.Name.String("db.conn"))
	got := h.collect(t)
	active := got[attrkey.MetricActive]
	if active.Unit != "{lifetime}" {
		t.Errorf("active unit %q", active.Unit)
	}
	if v, _ := sumPoint[int64](t, active, base); v != 1 {
		t.Fatalf("active = %d while open, want 1", v)
	}
	if s := active.Data.(metricdata.Sum[int64]); s.IsMonotonic {
		t.Error("active must be an UpDownCounter")
	}

	_ = r.Close(ctx)
	g.Disarm()
	got = h.collect(t)
	if v, _ := sumPoint[int64](t, got[attrkey.MetricActive], base); v != 0 {
		t.Fatalf("active = %d after Close, want 0", v)
	}
	cleaned := set(attrkey.Kind.String("resource"), attrkey.Name.String("db.conn"), attrkey.Outcome.String("cleaned"))
	if v, ok := sumPoint[int64](t, got[attrkey.MetricEnded], cleaned); !ok || v != 1 {
		t.Fatalf("ended{cleaned} = %d, %v", v, ok)
	}
	disarmed := set(attrkey.Kind.String("guard"), attrkey.Name.String("tx"), attrkey.Outcome.String("disarmed"))
	if v, _ := sumPoint[int64](t, got[attrkey.MetricEnded], disarmed); v != 1 {
		t.Fatalf("ended{disarmed} = %d", v)
	}
	for _, name := range []string{attrkey.MetricCleanupDuration, attrkey.MetricLifetimeDuration} {
		m := got[name]
		if m.Unit != "s" {
			t.Errorf("%s unit %q", name, m.Unit)
		}
		hist := m.Data.(metricdata.Histogram[float64])
		var count uint64
		for _, dp := range hist.DataPoints {
			count += dp.Count
			if dp.Attributes.Equals(&cleaned) && len(dp.Bounds) > 0 && dp.Bounds[0] != 0.0001 {
				t.Errorf("%s buckets start at %v, want 100µs", name, dp.Bounds[0])
			}
		}
		want := uint64(2) // a release ran for the resource only; both lifetimes ended
		if name == attrkey.MetricCleanupDuration {
			want = 1
		}
		if count != want {
			t.Errorf("%s count = %d, want %d", name, count, want)
		}
	}
}

func TestMetricsCountLeaksWhateverTheSampling(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(boundedCtx())
	h := &metricHarness{reader: reader}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer tp.Shutdown(boundedCtx())
	tr := otelguard.New(otelguard.WithTracerProvider(tp), otelguard.WithMeterProvider(mp))
	leakResource(tr)
	collectLeaks(t, tr, 1)
	leaked := set(attrkey.Kind.String("resource"), attrkey.Name.String("leaky"), attrkey.Outcome.String("leaked_without_close"))
	got := h.collect(t)
	if v, _ := sumPoint[int64](t, got[attrkey.MetricEnded], leaked); v != 1 {
		t.Fatalf("ended{leaked_without_close} = %d, want 1", v)
	}
	base := set(attrkey.Kind.String("resource"), attrkey.Name.String("leaky"))
	if v, _ := sumPoint[int64](t, got[attrkey.MetricActive], base); v != 0 {
		t.Fatalf("active = %d after the leak, want 0", v)
	}
}

func TestMetricsMisuse(t *testing.T) {
	h := newMetricHarness(t)
	r := otelguard.Acquire(context.Background(), "c", 0, func(context.Context, int) error { return nil }, otelguard.WithTracker(h.tr))
	_ = r.Close(context.Background())
	//otelguard:handoff misuse on purpose: the test counts the use_after_close metric
	_ = r.Value()
	//otelguard:handoff misuse on purpose: the test counts the use_after_close metric
	_ = r.Value()
	want := set(attrkey.Kind.String("resource"), attrkey.Name.String("c"), attrkey.MisuseKind.String("use_after_close"))
	if v, _ := sumPoint[int64](t, h.collect(t)[attrkey.MetricMisuse], want); v != 2 {
		t.Fatalf("misuse = %d, want 2 (every misuse counts)", v)
	}
}

func TestHoldThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		h := newMetricHarness(t, otelguard.WithLogger(logger), otelguard.WithDefaultHoldThreshold(time.Minute))
		ctx := context.Background()
		slow := otelguard.Acquire(ctx, "db.conn", 0, func(context.Context, int) error { return nil },
			otelguard.WithTracker(h.tr), otelguard.WithHoldThreshold(2*time.Second))
		quick := otelguard.NewGuard(ctx, "quick", nop, otelguard.WithTracker(h.tr)) // the tracker default: a minute

		time.Sleep(time.Second)
		_ = quick.Run()
		time.Sleep(1500 * time.Millisecond) // slow passes its 2s threshold
		synctest.Wait()
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "otelguard.name=db.conn") {
			t.Fatalf("no held-too-long warning: %s", logs.String())
		}
		base := set(attrkey.Kind.String("resource"), attrkey.Name.String("db.conn"))
		if v, _ := sumPoint[int64](t, h.collect(t)[attrkey.MetricHeldTooLong], base); v != 1 {
			t.Fatalf("held_too_long = %d", v)
		}
		_ = slow.Close(ctx)
		if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "came back") {
			t.Fatalf("no came-back record: %s", logs.String())
		}
		s := h.one(t, "db.conn")
		a := wantEnd(t, s, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		if !a[attrkey.HoldExceeded].AsBool() {
			t.Error("hold.exceeded not set")
		}
		var evs []string
		for _, e := range s.Events() {
			evs = append(evs, e.Name)
			if e.Name == attrkey.EventHoldExceeded {
				found := false
				for _, kv := range e.Attributes {
					found = found || (kv.Key == attrkey.Stacktrace && strings.Contains(kv.Value.AsString(), ".TestHoldThreshold."))
				}
				if !found {
					t.Errorf("threshold event lacks the acquire stack: %v", e.Attributes)
				}
			}
		}
		if len(evs) != 2 || evs[0] != attrkey.EventHoldExceeded || evs[1] != attrkey.EventReturnedLate {
			t.Fatalf("events %v", evs)
		}
		q := attrs(h.one(t, "quick"))
		if _, ok := q[attrkey.HoldExceeded]; ok || len(h.one(t, "quick").Events()) != 0 {
			t.Error("a lifetime ended in time was marked")
		}
	})
}

func TestNoThresholdNoTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		g := otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithHoldThreshold(0), otelguard.WithTracker(h.tr))
		time.Sleep(time.Hour)
		_ = g.Run()
		if len(h.one(t, "g").Events()) != 0 {
			t.Fatal("events without a threshold")
		}
	})
}
