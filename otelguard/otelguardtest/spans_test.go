package otelguardtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// startAndForget starts a span and drops it without End.
//
//go:noinline
func startAndForget(tr trace.Tracer, name string) {
	_, span := tr.Start(context.Background(), name)
	_ = span
}

// spanTest runs body against a provider checked by CheckSpans(ft) and
// returns what the check reported when the fake test ended.
func spanTest(t *testing.T, shutdownFirst bool, body func(trace.Tracer), opts ...otelguardtest.Option) []string {
	t.Helper()
	ft := &fakeT{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(otelguardtest.CheckSpans(ft, opts...)))
	if shutdownFirst {
		// A test's own t.Cleanup(tp.Shutdown), registered after
		// CheckSpans, runs before the check.
		ft.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	} else {
		defer func() { _ = tp.Shutdown(context.Background()) }()
	}
	body(tp.Tracer("example.com/app"))
	ft.finish()
	if ft.helpers == 0 {
		t.Error("CheckSpans did not call Helper")
	}
	return ft.errors()
}

func TestCheckSpansFailsADroppedSpanNamingWhereItStarted(t *testing.T) {
	errs := spanTest(t, false, func(tr trace.Tracer) {
		_, ok := tr.Start(context.Background(), "ended")
		ok.End()
		startAndForget(tr, "checkout")
	})
	if len(errs) != 1 {
		t.Fatalf("errors %q, want one", errs)
	}
	e := errs[0]
	for _, want := range []string{
		"otelguard: found 1 span never ended:",
		`span "checkout": span_not_ended (dropped without End), started at:`,
		"\notelguardtest_test.startAndForget(", // the first frame, Go traceback format
	} {
		if !strings.Contains(strings.ReplaceAll(e, "github.com/otelguard/otelguard-go/otelguard/", ""), want) {
			t.Errorf("report lacks %q:\n%s", want, e)
		}
	}
	if strings.Contains(e, `"ended"`) {
		t.Errorf("report names the span that ended:\n%s", e)
	}
}

func TestCheckSpansFailsAnOpenSpan(t *testing.T) {
	for _, first := range []bool{false, true} {
		var held trace.Span
		errs := spanTest(t, first, func(tr trace.Tracer) {
			_, held = tr.Start(context.Background(), "held")
		})
		if len(errs) != 1 || !strings.Contains(errs[0], `span "held": open (not ended when the test ended), started at:`) ||
			!strings.Contains(errs[0], "TestCheckSpansFailsAnOpenSpan") {
			t.Fatalf("provider shut down first=%v: errors %q, want the open span with its stack", first, errs)
		}
		held.End()
	}
}

func TestCheckSpansPassesWhenEverySpanEnded(t *testing.T) {
	errs := spanTest(t, false, func(tr trace.Tracer) {
		for range 100 {
			ctx, s := tr.Start(context.Background(), "parent")
			_, c := tr.Start(ctx, "child")
			c.End()
			s.End()
		}
	})
	if len(errs) != 0 {
		t.Fatalf("errors %q, want none", errs)
	}
}

func TestCheckSpansIgnoreName(t *testing.T) {
	errs := spanTest(t, false, func(tr trace.Tracer) {
		startAndForget(tr, "background")
		startAndForget(tr, "request")
	}, otelguardtest.IgnoreName("background"))
	if len(errs) != 1 || strings.Contains(errs[0], "background") || !strings.Contains(errs[0], `"request"`) {
		t.Fatalf("errors %q, want only the span named request", errs)
	}
}

func TestCheckSpansPanicsOnNilT(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "otelguardtest: ") {
			t.Fatalf("recovered %v, want an otelguardtest panic", r)
		}
	}()
	otelguardtest.CheckSpans(nil)
}
