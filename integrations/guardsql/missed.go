package guardsql

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// The two calls a release makes on its lifetime with the ctx it was
// given, before it returns: the core's otelguard.MissedClose and
// otelguard.SetEndAttributes.

// missedClose ends the lifetime as a missed close: one its owner never
// ended, ended instead because a context ended. The span gets
// otelguard.missed_close=true, status Error with description and
// code.stacktrace; the lifetime is counted
// (otelguard.lifetime.missed_close), logged and fails otelguardtest.
func missedClose(ctx context.Context, description string) {
	otelguard.MissedClose(ctx, description)
}

// setEndAttributes sets kv on the lifetime's span when it ends.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	otelguard.SetEndAttributes(ctx, kv...)
}

// Descriptions of the missed closes this package reports.
const (
	missedRows = "closed by database/sql because its context ended: the code never closed these rows (Rows.Close, or Next until false)"
	missedTx   = "rolled back by database/sql because its context ended: the code never committed or rolled back this transaction"
	// missedRowsTx: database/sql ends a transaction's context at Commit
	// or Rollback, and closes its rows still open then.
	missedRowsTx = "closed by database/sql because its transaction ended: the code never closed these rows (Rows.Close, or Next until false)"
)
