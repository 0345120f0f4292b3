// The //otelguard:handoff <reason> directive silences the report of the
// acquire on its line or on the line after it; without a reason it is
// itself reported and silences nothing.
package rules

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
)

type pool struct{}

func (pool) adopt(ctx context.Context) {}

func directiveLineBefore(ctx context.Context) {
	//otelguard:handoff the pool adopts every conn of ctx and closes it
	r := otelguard.Acquire(ctx, "conn", 1, release)
	pool{}.adopt(ctx)
	_ = r
}

func directiveSameLine(ctx context.Context) {
	otelguard.Acquire(ctx, "conn", 1, release) //otelguard:handoff leaked on purpose: the test wants the GC's report
}

func directiveWithoutReason(ctx context.Context) {
	/* // want `//otelguard:handoff needs a reason` */ //otelguard:handoff
	otelguard.Acquire(ctx, "conn", 1, release)         // want `the \*otelguard.Resource from Acquire is discarded`
}

func directiveTooFarAway(ctx context.Context) {
	//otelguard:handoff two lines up is not the acquire's line

	otelguard.Acquire(ctx, "conn", 1, release) // want `the \*otelguard.Resource from Acquire is discarded`
}

// Another word that starts the same is not the directive.
func directiveLookalike(ctx context.Context) {
	//otelguard:handoffs are not this
	otelguard.Acquire(ctx, "conn", 1, release) // want `the \*otelguard.Resource from Acquire is discarded`
}
