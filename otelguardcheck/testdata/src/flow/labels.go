// Labelled break and continue, and goto.
package flow

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

func labelledBreakLeaves(ctx context.Context, rows [][]int) error {
outer:
	for _, row := range rows {
		for _, v := range row {
			r := otelguard.Acquire(ctx, "cell", v, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the return on line 21 is reached`
			if v < 0 {
				break outer
			}
			_ = r.Close(ctx)
		}
	}
	return nil
}

func labelledContinueCloses(ctx context.Context, rows [][]int) {
outer:
	for _, row := range rows {
		for _, v := range row {
			r := otelguard.Acquire(ctx, "cell", v, release)
			if v < 0 {
				_ = r.Close(ctx)
				continue outer
			}
			_ = r.Close(ctx)
		}
	}
}

func gotoSkipsClose(ctx context.Context, v int) {
	r := otelguard.Acquire(ctx, "cell", v, release) // want `r \(\*otelguard.Resource from Acquire\) is not closed on every path: the end of the function \(line 46\) is reached`
	if v < 0 {
		goto done
	}
	_ = r.Close(ctx)
done:
	println("done")
}
