package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func ExampleNew() {
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	ctx := context.Background()

	conn := otelguard.Acquire(ctx, "db.conn", "primary", func(context.Context, string) error { return nil },
		otelguard.WithTracker(tracker))
	_ = conn.Close(ctx)

	rollback := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return nil }, otelguard.WithTracker(tracker))
	rollback.Disarm() // committed

	for _, l := range exp.Lifetimes() {
		fmt.Println(l.Name, l.Kind, l.Outcome, l.Trigger)
	}
	// Output:
	// db.conn resource cleaned close
	// tx.rollback guard disarmed disarm
}

// openReport forgets to close what it acquires.
//
//go:noinline
func openReport(tracker *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the example shows the GC's leaked_without_close report
	otelguard.Acquire(context.Background(), "report.buffer", make([]byte, 4096),
		func(context.Context, []byte) error { return nil }, otelguard.WithTracker(tracker))
}

// Leaks are found by the garbage collector; otelguardtest.Find forces
// collections and returns once their spans have ended. (The package
// documentation's snippet.)
func ExampleExporter_Leaks() {
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	openReport(tracker) // code under test that drops a handle
	_ = otelguardtest.Find(tracker)
	for _, l := range exp.Leaks() {
		site, _ := l.AcquireSite()
		fmt.Println(l.Name, "leaked, acquired at", site.Function)
	}
	_ = tp.Shutdown(context.Background())
	// Output:
	// report.buffer leaked, acquired at github.com/otelguard/otelguard-go/exporters/memory_test.openReport
}

func ExampleExporter_ByOutcome() {
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	ctx := context.Background()

	flush := otelguard.Acquire(ctx, "cache.flush", 0, func(context.Context, int) error {
		return errors.New("cache node unreachable")
	}, otelguard.WithTracker(tracker))
	_ = flush.Close(ctx)

	for _, l := range exp.ByOutcome(otelguard.OutcomeFailed) {
		fmt.Println(l.Name, l.Outcome, l.ErrorType, l.Span.Status.Description)
	}
	// Output:
	// cache.flush failed *errors.errorString cache node unreachable
}

func ExampleExporter_Misuses() {
	exp := memory.New()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tracker := otelguard.New(otelguard.WithTracerProvider(tp))
	ctx := context.Background()

	conn := otelguard.Acquire(ctx, "db.conn", "primary", func(context.Context, string) error { return nil },
		otelguard.WithTracker(tracker))
	_ = conn.Close(ctx)
	//otelguard:handoff misuse on purpose: the example shows the use-after-close record
	_ = conn.Value() // use after close

	fmt.Println("lifetimes:", len(exp.Lifetimes()))
	for _, m := range exp.Misuses() {
		fmt.Println(m.Kind, "of", m.Lifetime)
	}
	// Output:
	// lifetimes: 1
	// use_after_close of db.conn
}

func ExampleLifetime_AcquireSite() {
	l := memory.Lifetime{AcquireStack: "example.com/app.openReport(...)\n" +
		"\t/src/app/report.go:42 +0x4c\n" +
		"example.com/app.main(...)\n" +
		"\t/src/app/main.go:12 +0x1d\n"}
	site, ok := l.AcquireSite()
	fmt.Println(site, ok)
	// Output:
	// example.com/app.openReport /src/app/report.go:42 true
}
