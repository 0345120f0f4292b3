//lint:file-ignore SA1019 the deprecated driver interfaces are what database/sql falls back to for drivers that have only them, and conn passes them through.

package guardsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// conn wraps a driver connection. database/sql makes every call on a
// connection, and on the rows, statements and transaction that hang off
// it, under its own lock of that connection (driverConn's mutex), so the
// checkout state below needs no lock of its own.
//
// conn always implements the optional interfaces database/sql looks for,
// with the answer database/sql gives when the driver lacks one (ErrSkip,
// the fallbacks of database/sql's ctxutil.go, a nil Ping, a true IsValid),
// except driver.SessionResetter: resetConn adds it only when the driver
// has it. See IsValid for why, and for what keeps database/sql's
// behaviour unchanged.
type conn struct {
	c   driver.Conn
	cfg *config

	pinger   driver.Pinger
	execCtx  driver.ExecerContext
	exec     driver.Execer
	queryCtx driver.QueryerContext
	query    driver.Queryer
	prepCtx  driver.ConnPrepareContext
	beginTx  driver.ConnBeginTx
	reset    driver.SessionResetter
	valid    driver.Validator
	nvc      driver.NamedValueChecker

	// Checkout state, under database/sql's lock of the connection.
	out   bool                         // checked out: a call came since it was last returned (IsValid)
	outAt time.Time                    // when out became true: use_time's start
	held  *otelguard.Resource[*ending] // the DB.Conn checkout, as db.conn
	heldE *ending
	txCtx context.Context // the BeginTx context of the transaction open on it, if any
	bad   bool            // IsValid reports false: see Rollback
	// skipped: the last ExecContext or QueryContext returned
	// driver.ErrSkip, so database/sql's next call on c is a Prepare of a
	// statement for that one call (its documented fallback for a driver
	// without the fast path), which is not watched (startStmt).
	skipped bool
}

// resetConn is a conn whose driver connection has ResetSession.
type resetConn struct{ *conn }

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.SessionResetter    = resetConn{}
)

func newConn(dc driver.Conn, cfg *config) *conn {
	c := &conn{c: dc, cfg: cfg}
	c.pinger, _ = dc.(driver.Pinger)
	c.execCtx, _ = dc.(driver.ExecerContext)
	c.exec, _ = dc.(driver.Execer)
	c.queryCtx, _ = dc.(driver.QueryerContext)
	c.query, _ = dc.(driver.Queryer)
	c.prepCtx, _ = dc.(driver.ConnPrepareContext)
	c.beginTx, _ = dc.(driver.ConnBeginTx)
	c.reset, _ = dc.(driver.SessionResetter)
	c.valid, _ = dc.(driver.Validator)
	c.nvc, _ = dc.(driver.NamedValueChecker)
	return c
}

// driverConn is c as database/sql is given it.
func (c *conn) driverConn() driver.Conn {
	if c.reset != nil {
		return resetConn{c}
	}
	return c
}

// Raw returns the driver's own connection.
func (c *conn) Raw() driver.Conn { return c.c }

// A lifetime's kind decides its options.
type lifeKind uint8

const (
	kRows lifeKind = iota
	kTx
	kConn
	kStmt
)

// begin starts a lifetime named name with e as its value; its acquire
// stack starts at the user's call (see config.acq).
//
// Tx.Query, Tx.Exec and Tx.Prepare pass context.Background: rows and
// statements of a transaction whose context carries no Tracker, no span
// and no deadline get their Tracker, parent span and Request from the
// transaction's context instead (not its end: database/sql closes them
// when the transaction ends, and rows.Close says so).
func (c *conn) begin(ctx context.Context, name string, e *ending, k lifeKind, query string) *otelguard.Resource[*ending] {
	cfg := c.cfg
	if (k == kRows || k == kStmt) && c.txCtx != nil && ctx.Done() == nil &&
		otelguard.TrackerFrom(ctx) == nil && !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = context.WithoutCancel(c.txCtx)
	}
	ends := 0
	if ctx.Done() != nil {
		ends = 1
	}
	opts := cfg.acq[k][ends]
	if k == kRows && ends == 0 && c.txCtx == nil && c.held == nil {
		// Rows of a query on the DB itself, with a context that never
		// ends: nothing but their *sql.Rows can reach their connection,
		// so once leak detection finds them dropped their release may
		// close them (see release).
		opts = cfg.leakRows
	}
	if cfg.queryText && query != "" && (k == kRows || k == kStmt) {
		var buf [maxAcquireOptions + 1]otelguard.AcquireOption
		n := copy(buf[:], opts)
		buf[n] = otelguard.WithAttributes(semconv.DBQueryText(query))
		opts = buf[:n+1]
	}
	return otelguard.Acquire(ctx, name, e, release, opts...)
}

// finish makes the driver call that ends a lifetime, as database/sql asks
// for it, and returns the driver's result unchanged (database/sql reads
// driver.ErrBadConn from it). If the lifetime's own context has ended
// (ctxDone), CloseOnCancel's release reports the end (trigger cancel) and
// the call is made here; otherwise the release makes it, through
// Resource.Close, on this goroutine — or, when a release of otelguard's
// is already waiting for it, there, while this one waits.
func finish(res *otelguard.Resource[*ending], e *ending, by closedBy, commit, ctxDone bool) error {
	if ctxDone {
		e.note(by, commit)
		return e.call()
	}
	e.ask(by, commit)
	_ = res.Close(context.Background()) // the driver's error is e's; the span has it
	if done, err := e.result(); done {
		return err
	}
	// The lifetime ended without the call: a release that gave up
	// waiting for database/sql (CloseAll's deadline, the cleanup timeout).
	return e.call()
}

// checkout notes the first call on c since it was returned to the pool.
// When the frames (s, walkCaller's) show a DB.Conn checkout, or a call on
// the *sql.Conn it returned (a checkout that reached the driver with
// nothing to call), the checkout is watched as db.conn until the
// connection is returned.
func (c *conn) checkout(ctx context.Context, s site) {
	c.out, c.outAt = true, now()
	if (s == siteDBConn || s == siteSQLConn) && c.held == nil {
		e := &ending{}
		c.held, c.heldE = c.begin(ctx, SpanConn, e, kConn, ""), e
	}
}

// returned notes that c is back in the pool, or closed, and records the
// checkout's use_time if one was seen.
func (c *conn) returned() {
	if c.out {
		c.cfg.metrics.recordUse(now().Sub(c.outAt))
	}
	c.out, c.skipped = false, false
	if res, e := c.held, c.heldE; res != nil {
		c.held, c.heldE = nil, nil
		_ = finish(res, e, byNone, false, false)
	}
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	oneShot := c.skipped // a statement for one call is not watched (startStmt)
	c.skipped = false
	if !c.out {
		c.checkout(ctx, walkCaller())
	}
	var s driver.Stmt
	var err error
	if c.prepCtx != nil {
		s, err = c.prepCtx.PrepareContext(ctx, query)
	} else {
		// database/sql's ctxDriverPrepare.
		s, err = c.c.Prepare(query)
		if err == nil {
			select {
			default:
			case <-ctx.Done():
				s.Close()
				return nil, ctx.Err()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return c.startStmt(ctx, s, query, oneShot), nil
}

func (c *conn) Close() error {
	c.returned()
	return c.c.Close()
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.c.Begin()
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.skipped = false
	if !c.out {
		c.checkout(ctx, walkCaller())
	}
	var t driver.Tx
	var err error
	if c.beginTx != nil {
		t, err = c.beginTx.BeginTx(ctx, opts)
	} else {
		t, err = beginFallback(ctx, c.c, opts)
	}
	if err != nil {
		return nil, err
	}
	return c.startTx(ctx, t), nil
}

// beginFallback is database/sql's ctxDriverBegin for a driver without
// ConnBeginTx.
func beginFallback(ctx context.Context, dc driver.Conn, opts driver.TxOptions) (driver.Tx, error) {
	if opts.Isolation != 0 {
		return nil, errors.New("sql: driver does not support non-default isolation level")
	}
	if opts.ReadOnly {
		return nil, errors.New("sql: driver does not support read-only transactions")
	}
	if ctx.Done() == nil {
		return dc.Begin()
	}
	t, err := dc.Begin()
	if err == nil {
		select {
		default:
		case <-ctx.Done():
			t.Rollback()
			return nil, ctx.Err()
		}
	}
	return t, err
}

func (c *conn) Ping(ctx context.Context) error {
	if !c.out {
		c.checkout(ctx, walkCaller())
	}
	if c.pinger == nil {
		return nil
	}
	return c.pinger.Ping(ctx)
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if !c.out {
		c.checkout(ctx, walkCaller())
	}
	res, err := c.execDriver(ctx, query, args)
	c.skipped = err == driver.ErrSkip // database/sql compares it so
	return res, err
}

func (c *conn) execDriver(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.execCtx != nil {
		return c.execCtx.ExecContext(ctx, query, args)
	}
	if c.exec == nil {
		return nil, driver.ErrSkip
	}
	dargs, err := legacyArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	return c.exec.Exec(query, dargs)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if !c.out {
		c.checkout(ctx, walkCaller())
	}
	var r driver.Rows
	var err error
	switch {
	case c.queryCtx != nil:
		r, err = c.queryCtx.QueryContext(ctx, query, args)
	case c.query != nil:
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err != nil {
			return nil, err
		}
		r, err = c.query.Query(query, dargs)
	default:
		err = driver.ErrSkip
	}
	c.skipped = err == driver.ErrSkip // database/sql compares it so
	if err != nil {
		return nil, err
	}
	return c.startRows(ctx, r, query), nil
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if c.nvc == nil {
		return driver.ErrSkip
	}
	return c.nvc.CheckNamedValue(nv)
}

// IsValid is called by database/sql each time the connection goes back
// to the pool: it is how this package sees a checkout end, so conn always
// has it, answering true (as database/sql does for a driver without it)
// unless the driver's own IsValid says otherwise.
//
// database/sql keeps a connection whose transaction it rolled back because
// the transaction's context ended only when the driver has both
// SessionResetter and Validator (Tx.keepConnOnRollback); otherwise it
// discards it. For a driver with ResetSession and no IsValid (pgx's
// stdlib), conn's IsValid would turn that discard into a keep. Rollback
// restores it: a rollback made once the transaction's context has ended
// marks the connection bad, and IsValid's false makes database/sql discard
// it just the same.
func (c *conn) IsValid() bool {
	c.returned()
	if c.bad {
		return false
	}
	if c.valid != nil {
		return c.valid.IsValid()
	}
	return true
}

func (c resetConn) ResetSession(ctx context.Context) error {
	if c.out {
		return c.reset.ResetSession(ctx)
	}
	seen := peekCaller()
	if err := c.reset.ResetSession(ctx); err != nil {
		return err // database/sql closes the connection (driver.ErrBadConn) or fails the checkout
	}
	c.checkout(ctx, seen)
	return nil
}

// legacyArgs is what database/sql's ctxutil does before calling a driver
// without the context forms of Exec and Query: the arguments without
// names (a named one is an error), then ctx's error if it is already done,
// since such a driver cannot be told.
func legacyArgs(ctx context.Context, named []driver.NamedValue) ([]driver.Value, error) {
	dargs := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		dargs[n] = param.Value
	}
	select {
	default:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return dargs, nil
}
