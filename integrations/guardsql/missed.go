package guardsql

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The two calls a release makes on its lifetime with the ctx it was
// given. The core is adding otelguard.MissedClose and
// otelguard.SetEndAttributes for them (DESIGN.md, v2: "the core gives
// integrations a documented way"); until they are on this branch these
// write on the lifetime's span directly, which the core ends after the
// release returns (trace.SpanFromContext(releaseCtx) is that span). Each
// switch to the core is a one-line change here.

// coreMissedClose is true once missedClose calls otelguard.MissedClose,
// which also makes otelguardtest fail a test for each missed close:
// TestOtelguardtestFailsWhatATestLeftOpen expects that only then.
const coreMissedClose = false

// missedCloseAttr is otelguard.missed_close (DESIGN.md, v2).
var missedCloseAttr = attribute.Bool("otelguard.missed_close", true)

// missedClose ends the lifetime as a missed close: one its owner never
// ended, ended instead because a context ended. With the core's
// otelguard.MissedClose the span also gets code.stacktrace, and the
// lifetime is counted (otelguard.lifetime.missed_close), logged and fails
// otelguardtest; here only otelguard.missed_close=true and an Error status
// with description are set.
func missedClose(ctx context.Context, description string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(missedCloseAttr)
	span.SetStatus(codes.Error, description)
}

// setEndAttributes sets kv on the lifetime's span when it ends (the
// core's otelguard.SetEndAttributes).
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	trace.SpanFromContext(ctx).SetAttributes(kv...)
}

// Descriptions of the missed closes this package reports.
const (
	missedRows = "closed by database/sql because its context ended: the code never closed these rows (Rows.Close, or Next until false)"
	missedTx   = "rolled back by database/sql because its context ended: the code never committed or rolled back this transaction"
	// missedRowsTx: database/sql ends a transaction's context at Commit
	// or Rollback, and closes its rows still open then.
	missedRowsTx = "closed by database/sql because its transaction ended: the code never closed these rows (Rows.Close, or Next until false)"
)
