// Package guardpgx watches what a pgx v5 program holds — rows, batches,
// transactions and pool checkouts — as otelguard lifetimes, and tells who
// holds an exhausted pool. It installs a tracer in the pgx configuration,
// chained after the tracer already there (otelpgx's keeps its place and
// sees every call first), so the code keeps its *pgxpool.Pool, pgx.Rows
// and pgx.Tx unchanged:
//
//	cfg, err := pgxpool.ParseConfig(dsn)
//	if err != nil {
//		return nil, err
//	}
//	guardpgx.ConfigurePool(cfg) // after otelpgx, if cfg.ConnConfig.Tracer is set
//	return pgxpool.NewWithConfig(ctx, cfg)
//
// ConfigureConn does the same for a single pgx.Conn (no checkouts, no
// findings, no metrics).
//
// # What is watched
//
// Each lifetime is a span of kind resource that ends with exactly one
// otelguard outcome; it is acquired with the context of the pgx call that
// opened it — the query's for db.rows — so its Tracker, parent span and
// Request are that context's, and its acquire stack starts at the user's
// call (the frames of pgx, pgxpool, multitracer and this package are
// skipped; WithCallerSkipPackages names more).
//
//	span      from                                   to
//	db.rows   Query, QueryRow (pool or conn, or a    pgx's close of the rows: Rows.Close, Next
//	          Tx's)                                  returning false, a failed Scan, QueryRow's
//	                                                 Scan, CollectRows
//	db.batch  SendBatch                              BatchResults.Close
//	db.tx     the statement after which the server   the statement after which it is idle again
//	          says a transaction is open (Begin's)   (Commit's, Rollback's), with the result
//	db.conn   Pool.Acquire, Pool.AcquireFunc         Conn.Release
//
// A checkout that pgxpool makes itself inside Pool.Query, Pool.QueryRow,
// Pool.SendBatch, Pool.Begin or Pool.Exec is not a db.conn: the db.rows,
// db.batch or db.tx that follows holds it (an Exec holds it only while it
// runs). Every checkout, of either kind, is a holder of the pool: counted
// in the metrics and named by the pool_exhausted finding.
//
// Every db.rows, db.batch, db.tx and db.conn has a hold threshold:
// DefaultHoldThreshold (30s) unless WithHoldThreshold says otherwise. Past
// it the lifetime is reported while still open (a span event with the
// acquire stack, a Warn record through the Tracker's logger, the
// otelguard.lifetime.held_too_long counter), and again when it comes back.
//
// # Dropped rows: why the collector cannot find them
//
// pgx never closes rows the code dropped: not when their context ends,
// not when they become garbage — and they never become garbage. The
// connection's result reader holds the query's context (where a tracer
// keeps its state), and pgxpool keeps its rows in a slice of the
// connection's. Measured here (TestDroppedRowsStayReachable): a marker in
// the context the query's tracer call returned is still reachable after 50
// forced collections when the rows are dropped, on a pgx.Conn alone and on
// a pgxpool.Pool, and is freed after one collection when the rows are
// closed and the connection reused. The dropped rows hold their pool
// connection for the life of the pool, and the pool is one connection
// smaller. So otelguard's leak detection never reports them, and they are
// found deterministically instead:
//
//   - by the Request check: rows (batches, transactions, checkouts)
//     acquired with the context of a unit of work — guardhttp.NewHandler's
//     request, the gRPC server interceptors' RPC, otelguard.ContextWithRequest
//     — and still open when it ends are reported then, naming the line
//     that made the query. Run queries with the request's context.
//   - by the hold threshold, while still open, wherever they were acquired;
//   - by the pool's exhaustion, below, which names every holder.
//
// # Pool exhaustion
//
// An acquire that fails because the pool is closed, or because its
// context ended (deadline or cancel) while every connection the pool may
// open was checked out, emits a finding pool_exhausted: a span named
// otelguard.finding, the root of a trace of its own (its sampling does not
// depend on the waiting request's), with its attributes given at start so
// a sampler sees them:
//
//	otelguard.finding               pool_exhausted
//	otelguard.name                  the pool's name (also db.client.connection.pool.name)
//	otelguard.kind                  resource
//	db.system.name                  postgresql
//	error.type                      timeout, canceled or closed_pool
//	otelguard.holders               how many checkouts hold the pool
//	otelguard.holder.names          each holder's name, oldest first: db.conn, db.rows, db.tx, db.batch
//	otelguard.holder.ages_ms        each holder's age, in the same order
//	otelguard.wait_ms               how long the failed acquire waited
//	code.stacktrace                 every holder's acquire stack, oldest first, separated by an
//	                                empty line, each headed "holder 1 of 2: db.conn, held 1.5s,
//	                                acquired at:"; holders with one stack share an entry ("38 of
//	                                40 holders: db.rows, held up to 31s"), at most 16 entries
//	otelguard.repeats               failed acquires not reported since the last finding
//
// Its links point at the span each holder's acquire ran under (the
// holder's request: link attribute otelguard.link=holder, with
// otelguard.name) and at the failed acquire's own (otelguard.link=waiter).
// The same goes out as a Warn record through WithLogger's logger
// (slog.Default() by default), each holder a group holder.N with its
// name, age, count and code.stacktrace. The span comes from
// WithTracerProvider's provider (the global one by default). At most one
// finding per pool per WithFindingInterval (DefaultFindingInterval, 10s).
// A context that ends while a connection is still being opened (a slow
// server) is not exhaustion: it is only counted as a timeout.
//
// # Metrics
//
// The semantic conventions' pool metrics (v1.40.0), with
// db.client.connection.pool.name (WithPoolName, else
// server.address:server.port/db.namespace), through WithMeterProvider's
// provider (the global one by default):
//
//	db.client.connection.count             idle and used (acquired) connections, from Pool.Stat;
//	                                       connections being opened are in neither
//	db.client.connection.max               Pool.Stat's MaxConns
//	db.client.connection.pending_requests  acquires in progress
//	db.client.connection.wait_time         each successful acquire's wait, in seconds
//	db.client.connection.use_time          each checkout, acquire to release, in seconds
//	db.client.connection.timeouts          acquires that failed on their context's deadline
//
// pgx gives a tracer no pool until its first acquire: the observed ones
// start then, and last as long as the process (pgx tells a tracer nothing
// when a pool is closed; a closed pool reads 0 connections).
//
// # Attributes
//
//	key                             on                            values
//	db.system.name                  every span                    postgresql
//	db.query.text                   db.rows                       the SQL, only with WithQueryText
//	db.client.connection.pool.name  db.conn                       the pool's name
//	otelguard.db.closed_by          db.rows, db.batch, db.tx      caller, release, connection
//	otelguard.db.tx.result          db.tx                         commit, rollback (not set when a
//	                                                              batch ended the transaction)
//	otelguard.missed_close          closed_by=release             true, with status Error and code.stacktrace
//
// Arguments are never recorded, nor the query text unless asked for.
// closed_by=release: the pool connection was released with the rows,
// batch or transaction still open, so pgxpool closed the connection and
// the server ended them — nothing in the code closed them, a missed close
// (otelguard.MissedClose: status Error saying so, code.stacktrace with the
// acquire stack, the otelguard.lifetime.missed_close counter, a Warn
// record; otelguardtest fails a test for it).
// closed_by=connection: the connection closed (a network error, a failed
// Commit) with the transaction open.
//
// # What cannot be watched, and why
//
//   - Rows dropped outside any Request, with the hold threshold off:
//     nothing sees them until the pool runs out (the finding names them),
//     Tracker.Live or Tracker.Shutdown (open_at_shutdown). The collector
//     never does (see above).
//   - pgconn's own API, reached through Conn.PgConn() (Exec, ExecParams,
//     ExecPrepared, CopyTo, CopyFrom, ReceiveResults): pgx calls no tracer
//     there.
//   - A batch's rows, one by one: pgx traces them as parts of the batch;
//     db.batch holds until BatchResults.Close, which reads what is left.
//   - Exec, CopyFrom, Prepare, Ping: they hold nothing once they return
//     (CopyFrom's tracer calls both happen inside it), so they are no
//     lifetimes; a checkout held by a long Exec is a holder all the same.
//   - Savepoints (Tx.Begin on a Tx): part of the outer db.tx, whose status
//     the server reports as one transaction.
//   - A connection closed with rows or a transaction open (Conn.Close, or
//     a network error with rows open): pgx calls no tracer; they stay open
//     until the collector finds the dropped pgx.Conn (leaked_without_close)
//     or Shutdown reports them.
//   - A hijacked pool connection (pgxpool.Conn.Hijack): pgxpool tells no
//     tracer, so its checkout looks held for ever (held too long, a holder
//     in every finding). Release a connection rather than hijack it, or
//     expect it listed.
//   - The lifetime's own span in a finding's links: otelguard does not
//     give an integration the span context of a lifetime it started, so a
//     holder's link points at the span its acquire ran under (its request).
//
// # The Tracker
//
// A lifetime uses the Tracker given with WithTracker; else the one its
// context carries (otelguard.ContextWithTracker); else otelguard.Default().
//
// # Bad input
//
// ConfigurePool and ConfigureConn panic with a "guardpgx: " message for a
// nil config (or a pgxpool.Config without its ConnConfig). A nil Option is
// ignored, and so are nil providers and loggers; WithHoldThreshold and
// WithFindingInterval take 0 for the default and a negative value for off.
//
// # Cost
//
// Per Query: a look at up to 8 frames above the tracer (each program
// counter classified once per process) to tell Query from Exec, the
// lifetime (a span, its acquire stack, a timer for the hold threshold),
// and a context value. Per checkout: its stack (runtime.Callers, symbolized
// only for a finding) and the pool's lock to list it. Per statement: the
// server's transaction status, read from the connection. See
// BenchmarkPairPgx for the comparison with otelpgx alone.
package guardpgx
