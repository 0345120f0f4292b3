package guardpgx

import (
	"context"

	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel/attribute"
)

// ScopeName is the instrumentation scope of the finding spans and the
// pool's metrics.
const ScopeName = pkgPath

// Span names of the lifetimes this package starts.
const (
	SpanRows  = "db.rows"  // from Query (or QueryRow) to the close of its rows
	SpanTx    = "db.tx"    // from Begin to Commit or Rollback
	SpanBatch = "db.batch" // from SendBatch to the close of its results
	SpanConn  = "db.conn"  // from a Pool.Acquire (or AcquireFunc) checkout to its Release
)

// Attribute keys this package sets, besides otelguard's own,
// db.system.name (always) and db.query.text (WithQueryText).
const (
	// ClosedByKey says what ended a db.rows, db.tx or db.batch lifetime;
	// see the ClosedBy values.
	ClosedByKey = attribute.Key("otelguard.db.closed_by")
	// TxResultKey is how a db.tx ended: commit or rollback.
	TxResultKey = attribute.Key("otelguard.db.tx.result")
)

// ClosedBy values.
const (
	// ClosedByCaller: pgx's own end of the rows, batch or transaction,
	// which the code asked for: Rows.Close (or pgx closing the rows when
	// Next returns false or a Scan fails, QueryRow's Scan, CollectRows),
	// BatchResults.Close, Tx.Commit or Tx.Rollback.
	ClosedByCaller = "caller"
	// ClosedByRelease: the pool connection was released (Conn.Release)
	// with the rows, batch or transaction still open, which makes pgxpool
	// close the connection: the server ends them. Nothing in the code
	// closed them: a missed close.
	ClosedByRelease = "release"
	// ClosedByConnection: the connection closed (a network error, a
	// failed Commit, which pgx answers by closing it) with the rows,
	// batch or transaction open: the server ended them. Not a missed
	// close: the code did its part.
	ClosedByConnection = "connection"
)

// TxResult values.
const (
	TxCommit   = "commit"
	TxRollback = "rollback"
)

// Attribute keys of the pool_exhausted finding.
const (
	findingKey     = attribute.Key("otelguard.finding")
	nameKey        = attribute.Key("otelguard.name")
	kindKey        = attribute.Key("otelguard.kind")
	holdersKey     = attribute.Key("otelguard.holders")
	holderNamesKey = attribute.Key("otelguard.holder.names")
	holderAgesKey  = attribute.Key("otelguard.holder.ages_ms")
	waitKey        = attribute.Key("otelguard.wait_ms")
	repeatsKey     = attribute.Key("otelguard.repeats")
	linkKey        = attribute.Key("otelguard.link")
)

// FindingPoolExhausted is the otelguard.finding value of the finding span
// a failed acquire emits.
const FindingPoolExhausted = "pool_exhausted"

// setEndAttributes sets kv on the span of the lifetime whose release runs
// with ctx.
func setEndAttributes(ctx context.Context, kv ...attribute.KeyValue) {
	otelguard.SetEndAttributes(ctx, kv...)
}

// missedClose ends the lifetime whose release runs with ctx as a missed
// close (otelguard.missed_close=true, status Error with description,
// code.stacktrace, the otelguard.lifetime.missed_close counter, a Warn
// record): nothing in the code closed it, description says what did.
func missedClose(ctx context.Context, description string) {
	otelguard.MissedClose(ctx, description)
}
