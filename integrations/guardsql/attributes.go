package guardsql

import "go.opentelemetry.io/otel/attribute"

// Span names of the lifetimes this package starts.
const (
	SpanRows = "db.rows" // from a query to the close of its rows
	SpanTx   = "db.tx"   // from BeginTx to Commit or Rollback
	SpanConn = "db.conn" // from a DB.Conn checkout to its return to the pool
	SpanStmt = "db.stmt" // from a statement's preparation on a connection to its close there
)

// Attribute keys this package sets on its spans, besides otelguard's own
// and db.system.name (always) and db.query.text (WithQueryText).
const (
	// ClosedByKey says who made the driver call that ended a db.rows or
	// db.tx lifetime; see the ClosedBy values.
	ClosedByKey = attribute.Key("otelguard.db.closed_by")
	// TxResultKey is how a db.tx ended: commit or rollback.
	TxResultKey = attribute.Key("otelguard.db.tx.result")
)

// ClosedBy values.
const (
	// ClosedByCaller: the caller's Rows.Close (or Row.Scan, for
	// QueryRow), Tx.Commit or Tx.Rollback.
	ClosedByCaller = "caller"
	// ClosedByIteration: database/sql closed the rows itself when Next
	// (or NextResultSet) returned false: the rows were read to the end,
	// or reading them failed.
	ClosedByIteration = "iteration"
	// ClosedByContext: database/sql closed the rows, or rolled the
	// transaction back, because the query's (or the transaction's)
	// context ended while they were open: nothing in the code closed
	// them, and they held their connection until then. With
	// trigger=cancel when it was the lifetime's own context. A missed
	// close: otelguard.missed_close=true, status Error.
	ClosedByContext = "context"
	// ClosedByTransaction: database/sql closed rows read in a
	// transaction when the transaction ended (Commit or Rollback) while
	// they were still open. A missed close, as ClosedByContext is.
	ClosedByTransaction = "transaction"
)

// TxResult values.
const (
	TxCommit   = "commit"
	TxRollback = "rollback"
)

var (
	closedByAttrs = [...]attribute.KeyValue{
		byCaller:      ClosedByKey.String(ClosedByCaller),
		byIteration:   ClosedByKey.String(ClosedByIteration),
		byContext:     ClosedByKey.String(ClosedByContext),
		byTransaction: ClosedByKey.String(ClosedByTransaction),
	}
	txCommitAttr   = TxResultKey.String(TxCommit)
	txRollbackAttr = TxResultKey.String(TxRollback)
)

// closedBy is the compact form of a ClosedBy value.
type closedBy uint8

const (
	byNone closedBy = iota // not told: db.conn, db.stmt
	byCaller
	byIteration
	byContext
	byTransaction
)
