// Package guardsql watches what a database/sql program holds — rows,
// transactions, DB.Conn checkouts, prepared statements — as otelguard
// lifetimes, with no change to the code that uses them: Open and OpenDB
// return a plain *sql.DB, and the code keeps its *sql.Rows, *sql.Tx,
// *sql.Conn and *sql.Stmt. The wrapping is at the driver level (the
// driver's connector, connections, rows, statements and transactions), as
// XSAM/otelsql's is.
//
//	db, err := guardsql.Open("pgx", dsn, guardsql.WithHoldThreshold(5*time.Second))
//
// # What is watched
//
// Each lifetime is a span of kind resource that ends with exactly one
// otelguard outcome; its acquire stack starts at the user's call (the
// line that called db.QueryContext, db.BeginTx, db.Conn, db.Prepare),
// whichever database/sql entry point was used: the first frame outside
// database/sql and this package. A query builder or ORM between the code
// and database/sql starts it unless WithCallerSkipPackages names it.
//
//	span     from                                       to
//	db.rows  a query that returned rows                 the driver's Rows.Close: the caller's Close (or
//	                                                    Row.Scan), Next returning false, the query's or
//	                                                    the transaction's context ending, the
//	                                                    transaction's end
//	db.tx    BeginTx                                    the driver's Commit or Rollback: the caller's, or
//	                                                    database/sql's rollback when the BeginTx context
//	                                                    ends
//	db.conn  a DB.Conn checkout                         the connection's return to the pool (Conn.Close)
//	                                                    or its close
//	db.stmt  a statement's preparation on a connection  the driver's Stmt.Close of it there
//
// Not watched: Exec, Ping and the like (nothing is held once they return),
// connections idle in the pool, statements database/sql prepares for a
// single Exec or Query (when the driver lacks the fast path or declines it
// with driver.ErrSkip; their rows are watched), and calls made on the
// driver's own connection reached through Conn.Raw and Unwrap.
//
// What the driver level cannot see exactly:
//
//   - A DB.Conn checkout reaches the driver at once when database/sql opens
//     a new connection for it (Connect) or resets a pooled one (ResetSession,
//     for drivers that have it: pgx, modernc.org/sqlite, lib/pq, mysql).
//     Otherwise — a pooled connection of a driver without ResetSession, or
//     one that database/sql's opener goroutine opened for a DB.Conn that had
//     to wait — the checkout is seen at the first call on the *sql.Conn, and
//     its acquire stack names that call; a *sql.Conn dropped before any call
//     is then not watched.
//   - db.stmt is one lifetime per connection a *sql.Stmt is prepared on
//     (database/sql prepares it again on another connection when the first
//     is busy): what the server holds. Its end is when database/sql closes
//     the driver's statement, which for a *sql.Stmt closed while its
//     connection is busy is when that connection next returns to the pool.
//
// # Attributes
//
//	key                     on                       values
//	db.system.name          every span               WithSystemName, else told from the driver
//	                                                 (postgresql, sqlite, mysql, …, other_sql)
//	db.query.text           db.rows, db.stmt         the query, only with WithQueryText
//	otelguard.db.closed_by  db.rows, db.tx           caller, iteration, context, transaction
//	otelguard.db.tx.result  db.tx                    commit, rollback
//
// Nothing else that could hold user data is recorded: no arguments, no
// query text unless asked for.
//
// otelguard.db.closed_by tells a caller's Close from database/sql's own:
// "iteration" when Next returned false, "transaction" when the
// transaction ended with the rows still open, and "context" when the query's
// (or the transaction's) context ended with them open — nothing in the code
// closed them, and they held their connection until the request ended.
// When it was the lifetime's own context (the query's, BeginTx's), the
// trigger is cancel (otelguard.CloseOnCancel); the outcome is cleaned when
// the driver call returned nil. The trigger says what ended first, the
// attribute who made the driver call: a Commit racing its context's end
// can end with trigger cancel, closed_by=caller and result commit —
// failed, if the driver refused to commit once the context had ended.
//
// # The Tracker
//
// A lifetime uses the Tracker given with WithTracker; else the one its
// context carries (otelguard.ContextWithTracker: the query's context for
// db.rows, BeginTx's for db.tx, DB.Conn's for db.conn, Prepare's for
// db.stmt); else otelguard.Default(). Rows and statements of a transaction
// made with a context that carries nothing (Tx.Query, Tx.Prepare) take the
// transaction's context for their Tracker, parent span and Request.
//
// # Leaks: what the collector can find, and what it cannot
//
// database/sql itself keeps much of what a program forgets reachable, so
// only some forgotten values ever become garbage:
//
//   - rows of DB.Query, DB.QueryRow (a *sql.Row never scanned) and a
//     *sql.Conn's queries, with a context that can never end
//     (context.Background): found by leak detection, leaked_without_close,
//     with the acquire stack; those of a query on the DB itself are then
//     closed (see below);
//   - rows and transactions with a context that can end: database/sql's own
//     goroutine holds them, and closes or rolls them back when the context
//     ends (trigger cancel, closed_by=context, a missed close): a leak for
//     the length of a request, shown by the hold threshold and Live until
//     then;
//   - a forgotten transaction with context.Background: database/sql's
//     goroutine holds it for good; a dropped *sql.Conn: the DB holds every
//     connection it opened; rows of a prepared *sql.Stmt: the DB holds them
//     until they are closed; a *sql.Stmt never closed: the DB holds it. None
//     of these is ever garbage. The hold threshold (WithHoldThreshold, or
//     the Tracker's otelguard.WithDefaultHoldThreshold), Tracker.Live, the
//     live view of otelguard/debug and Tracker.Shutdown (open_at_shutdown,
//     with the acquire stack) show them instead.
//
// # Missed closes, and the detection matrix
//
// Rows and transactions that database/sql ended because a context ended —
// closed_by=context (the query's or BeginTx's context), closed_by=transaction
// (rows still open at Commit or Rollback: database/sql ends the
// transaction's own context then) — are missed closes: the code never
// ended them. Their spans carry otelguard.missed_close=true and status
// Error saying what ended them, as a leak's and an open_at_shutdown's do,
// so one search finds them all. The driver cannot tell whether the code
// would have closed them later: rows still being read when a client goes
// away (the request's context is cancelled while the handler runs) are
// closed by database/sql at once, before the handler's deferred Close, and
// are reported too.
//
// matrix_test.go holds each way of holding to it, on SQLite and on
// PostgreSQL, with three contexts (docs/guardsql.md has the table and the
// why of each cell):
//
//	holding                     Background            request ctx / t.Context()
//	DB.QueryContext rows        leak                  missed close (context)
//	DB.Query rows               leak                  (takes no context)
//	DB.QueryRow never scanned   leak                  missed close (context)
//	Stmt.Query rows             open_at_shutdown *    missed close (context)
//	Tx.Query rows, tx ended     missed close (transaction), any context
//	Conn.QueryContext rows      leak                  missed close (context)
//	DB.BeginTx, Conn.BeginTx    open_at_shutdown *    missed close (context)
//	DB.Begin                    open_at_shutdown *    (takes no context)
//
// * never garbage, so never found by the collector: the DB keeps a
// prepared statement's rows in its dependency table until they are
// closed, and database/sql's goroutine that waits for a transaction's
// context to end holds the *sql.Tx for good when it never ends. The hold
// threshold, Tracker.Live, otelguard/debug's live view and a Request's end
// name them while the program runs; Shutdown reports them open_at_shutdown.
//
// # The pool after a leak
//
// database/sql gives a connection back to the pool only when what holds it
// (the *sql.Rows, *sql.Tx, *sql.Conn) is closed; once a *sql.Rows is
// garbage nothing can close it, and its connection is counted in use for
// the life of the DB. Measured with SQLite and PostgreSQL and a pool of two
// (SetMaxOpenConns(2)): after two leaked rows DB.Stats() reads
// OpenConnections 2, InUse 2, Idle 0, and every further query waits until its
// context ends (WaitCount and WaitDuration grow; a query with
// context.Background waits forever). Nothing at the driver level can give
// the slot back: database/sql still counts the connection in use.
//
// What the rows hold in the database can be given back, and is: rows of a
// query on the DB itself (DB.Query, DB.QueryContext, DB.QueryRow) found
// dropped are closed then, as database/sql would have closed them
// (otelguard.ReleaseOnLeak; the span says otelguard.leak.released=true).
// Until then a SQLite reader holds its lock on the database file, and
// every write fails with SQLITE_BUSY on any connection of the pool; a
// PostgreSQL query still sending rows keeps its snapshot and locks, and an
// ALTER TABLE of its table waits (measured: both succeed once the rows are
// found). It is safe there because database/sql never touches that
// connection again: its *sql.Rows is garbage, and a connection in use is
// never handed out nor closed by the DB. Rows of a *sql.Conn are not
// closed: the connection is still the Conn's, whose calls may run at any
// time. (Rows of a transaction or of a prepared statement are never
// garbage.) The driver's Close runs on a goroutine of its own; the leak's
// report waits for it at most the Tracker's cleanup timeout.
//
// What to do: fix the line the report names; run queries with the
// request's context, so that
// database/sql closes what the code forgot when the request ends (the pool
// recovers, and the span says closed_by=context); set a hold threshold
// shorter than the request timeout, so the holders are named while the
// requests still wait; restart the process (or open a new DB) to get the
// lost connections back. A *sql.Conn whose rows leaked also never closes:
// Conn.Close waits for the rows for good.
//
// # Metrics
//
// The semantic conventions' connection-pool metrics (v1.40.0), as far as
// database/sql lets the driver level see them, with
// db.client.connection.pool.name (WithPoolName; else, for Open, the
// driver name and the server the data source name gives as a URL or in
// libpq's key=value form, "pgx 127.0.0.1:5432/app", or the driver name
// alone, "sqlite"; for OpenDB, db.system.name — never a user, password or
// other parameter), through WithMeterProvider's provider (by default the
// global one, which follows a provider set later by otel.SetMeterProvider;
// a noop provider measures nothing):
//
//	metric                                 computed from
//	db.client.connection.count             DB.Stats at each collection: state=idle its Idle, state=used
//	                                       its InUse (the open connections not idle, so also one being
//	                                       opened)
//	db.client.connection.max               DB.Stats' MaxOpenConnections (SetMaxOpenConns); not reported
//	                                       while it is 0, unlimited
//	db.client.connection.use_time          each checkout the driver sees, in seconds: from its start
//	                                       (Connect, ResetSession, or the first call on the connection) to
//	                                       its return to the pool (IsValid) or its close; recorded then
//	db.client.connection.create_time       each connection made, in seconds: the driver connector's
//	                                       Connect that succeeded
//
// Not reported — database/sql does not let the driver level see them:
//
//	db.client.connection.pending_requests  the queue of checkouts waiting for a connection is
//	                                       database/sql's own (unexported); DB.Stats' WaitCount counts
//	                                       the waits begun since Open, not those still waiting, and a
//	                                       waiting checkout makes no driver call
//	db.client.connection.wait_time         a wait happens inside database/sql, before any driver call;
//	                                       DB.Stats has only the total wait (WaitDuration) and the number
//	                                       of waits (WaitCount) since Open. A histogram made from their
//	                                       growth between collections would have the right count and sum
//	                                       but invented buckets (every wait its interval's mean), so none
//	                                       is made
//	db.client.connection.timeouts          database/sql has no pool timeout: a wait ends when the
//	                                       caller's context does, and the call returns the context's error
//	                                       without reaching the driver; DB.Stats does not count it
//	db.client.connection.idle.max          SetMaxIdleConns' value is kept unexported; DB.Stats lacks it
//	db.client.connection.idle.min          database/sql keeps no minimum of idle connections
//
// WaitCount and WaitDuration stay readable from DB.Stats. The observed
// metrics (count, max) are registered by Open and OpenDB and unregistered
// by DB.Close; use_time is recorded also for connections returned after
// it. use_time covers every checkout — a query on the DB, a transaction, a
// DB.Conn — not only db.conn's. It starts late, at the first call, where
// the checkout itself does not reach the driver (see What is watched: a
// pooled connection of a driver without ResetSession, or one database/sql's
// opener made for a checkout that waited), and such a checkout closed
// with no call (a *sql.Conn closed unused) is not recorded. Two databases of one process need different pool names: the
// metrics of two with one name cannot be told apart.
//
// # Releases of otelguard's own
//
// Only database/sql may make the driver call that ends a lifetime: it
// holds its own lock of the connection while it does, and the caller may
// be reading the rows on another goroutine. So when otelguard runs a
// lifetime's release itself — Tracker.CloseAll, or CloseOnCancel when the
// context ends — the release waits, bounded by its context, for
// database/sql to make that call, and never touches the driver. CloseAll
// does not close rows or end transactions: it times out on them
// (timed_out), and they end normally afterwards. The one exception is the
// release of rows found dropped (see The pool after a leak), which
// database/sql can no longer close: the release tells it by its trigger
// (otelguard.ReleaseTrigger, gc), also when CloseAll runs it for rows
// dropped inside a testing/synctest bubble (whose leaks otelguard leaves
// to CloseAll inside the bubble).
//
// # What the frames above the driver tell
//
// A driver method is not told which database/sql method the code called,
// nor whether database/sql calls it from a goroutine of its own. This
// package tells both from the frames above the driver method, using only
// what database/sql's public API fixes: its package path and the exported
// method the code called (the database/sql frame just below the first
// frame of the code), never the name of an unexported function, which any
// Go release may change. A DB.Conn checkout is one whose call came through
// DB.Conn or a method of *sql.Conn; a call with no frame outside
// database/sql but the runtime's is database/sql's own goroutine (the
// pool's opener: not a checkout; the closing of rows whose transaction
// ended: closed_by=transaction). A statement prepared for one call is told
// by the driver.ErrSkip that precedes it, not by frames. Two consequences:
// rows closed by `go rows.Close()` (a goroutine that starts in
// database/sql) inside a transaction read as closed_by=transaction; and a
// *sql.Tx used from two goroutines at once, with a driver that answers
// driver.ErrSkip, may have an explicit Tx.Prepare taken for the other
// goroutine's one-call statement (unwatched) and that one watched instead.
//
// # Driver behaviour
//
// Every optional interface of the driver's connections, statements and
// rows is kept, with the answers database/sql gives when the driver lacks
// one, so database/sql behaves as with the bare driver. The connection
// always has IsValid (how a checkout's end is seen); for a driver with
// ResetSession and no IsValid (pgx), a transaction rolled back because its
// context ended still gets its connection discarded, as database/sql does
// for such drivers. DB.Driver returns the driver's own driver; Unwrap
// gives the driver's own connection inside Conn.Raw.
//
// # Bad input
//
// OpenDB panics with a "guardsql: " message if the connector is nil. Open
// returns sql.Open's error for a driver name nobody registered, and the
// driver's OpenConnector error for a data source name it rejects. A nil
// Option, WithTracker(nil), WithSystemName(""), WithPoolName("") and
// WithMeterProvider(nil) are ignored; WithHoldThreshold(d <= 0) means no
// threshold.
//
// # Cost
//
// One otelguard lifetime per rows, transaction, DB.Conn and statement (a
// span, the acquire stack, the registry). The stack is captured once; the
// frames of database/sql and this package that lead it are told by a
// per-process cache of their functions (otelguard.WithCallerSkipPackages).
// A short look at the frames above the driver (0.3 µs here) is added at
// each checkout of a pooled connection, to tell a DB.Conn checkout, and at
// a connection's first call, a Connect and the close of rows read in a
// transaction. On an in-memory SQLite point SELECT, which costs about
// 4 µs bare, that is 3.1× (a single raw span per query is already 1.5×,
// so the ≤ 1.10× target cannot be met there; 2.1× the query with that
// span), and 4.0× for a begin/commit; on PostgreSQL over loopback, 1.25×
// the bare query and 1.05× the query with one raw span around it (make
// bench-integrations). Against what users already run — over
// XSAM/otelsql, against otelsql alone, metrics on — 2.03× on the SQLite
// point SELECT, 1.25× on a 100-row scan, 1.71× on BeginTx+Exec+Commit, and
// 1.10–1.48× on PostgreSQL: the ≤ 1.10× target is missed (make
// bench-pairs, run C; the runs, their spreads and the profiles are in the
// repository's docs/PERFORMANCE.md).
//
// The pool metrics add two clock reads and one histogram record per
// checkout (and per connection made), and read DB.Stats once per
// collection: no allocation, and within the noise of that point SELECT
// with its spans recorded (BenchmarkPoolMetrics, an SDK MeterProvider
// against a noop one: medians of six runs 17.2 µs and 17.0 µs).
package guardsql
