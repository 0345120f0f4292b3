package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/trace"
)

func hold(args []string) error {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	threshold := fs.Duration("threshold", 300*time.Millisecond, "the lock's hold threshold")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	tel, err := newTelemetry(ctx)
	if err != nil {
		return err
	}
	ctx, job := tel.tp.Tracer("findingsvc").Start(ctx, "batch.job", trace.WithSpanKind(trace.SpanKindInternal))
	lock := otelguard.Acquire(ctx, "report.lock", struct{}{}, func(context.Context, struct{}) error { return nil },
		otelguard.WithTracker(tel.tracker), otelguard.WithHoldThreshold(*threshold))

	wctx, cancel := context.WithTimeout(ctx, *threshold+time.Minute)
	link, ok := tel.findings.wait(wctx, "held_too_long", "report.lock", nil)
	cancel()
	if !ok {
		err := lock.Close(ctx)
		job.End()
		return errors.Join(errors.New("no held_too_long finding"), err, tel.shutdown())
	}
	fmt.Printf("held %s\n", link)

	// Held until told: the test looks for the finding in Jaeger meanwhile.
	bufio.NewReader(os.Stdin).ReadString('\n')
	err = lock.Close(ctx)
	job.End()
	err = errors.Join(err, tel.shutdown())
	fmt.Println("closed")
	return err
}
