package guardpgx

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// tracer is what ConfigurePool and ConfigureConn install: pgx's
// QueryTracer, BatchTracer and pgxpool's AcquireTracer and ReleaseTracer.
// pgx calls it on the goroutine that uses the connection, one call at a
// time per connection (a pgx.Conn is not for concurrent use, and pgxpool
// hands a connection to one holder at a time), so the state it keeps per
// connection (connState) needs no lock; what other goroutines read — a
// pool's holders, for a finding — is under the pool's lock.
type tracer struct {
	cfg      *config
	poolName string
	// acq are the AcquireOptions of each kind of lifetime, resolved once.
	acq     [nKinds][]otelguard.AcquireOption
	finder  trace.Tracer
	meters  *meters
	pools   sync.Map // *pgxpool.Pool -> *poolState
	connKey string   // the key of connState in a connection's CustomData
}

var (
	_ pgx.QueryTracer       = (*tracer)(nil)
	_ pgx.BatchTracer       = (*tracer)(nil)
	_ pgxpool.AcquireTracer = (*tracer)(nil)
	_ pgxpool.ReleaseTracer = (*tracer)(nil)
)

// A lifetime's kind decides its options.
type lifeKind uint8

const (
	kRows lifeKind = iota
	kTx
	kBatch
	kConn
	nKinds
)

var kindNames = [nKinds]string{kRows: SpanRows, kTx: SpanTx, kBatch: SpanBatch, kConn: SpanConn}

func newTracer(opts []Option, poolName string) *tracer {
	c := &config{}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.poolName != "" {
		poolName = c.poolName
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	t := &tracer{
		cfg:      c,
		poolName: poolName,
		finder:   c.tp.Tracer(ScopeName),
		meters:   newMeters(c.mp),
		connKey:  pkgPath,
	}
	skip := append(append([]string(nil), internalPkgs...), c.skip...)
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL}
	for k := range t.acq {
		opts := []otelguard.AcquireOption{otelguard.WithCallerSkipPackages(skip...)}
		if c.tracker != nil {
			opts = append(opts, otelguard.WithTracker(c.tracker))
		}
		a := attrs
		if lifeKind(k) == kConn {
			a = append(a[:len(a):len(a)], semconv.DBClientConnectionPoolName(poolName))
		}
		opts = append(opts, otelguard.WithAttributes(a...), otelguard.WithHoldThreshold(c.holdThreshold()))
		t.acq[k] = opts
	}
	return t
}

// A held is one open db.rows, db.tx, db.batch or db.conn lifetime.
type held struct {
	res  *otelguard.Resource[*end]
	e    *end
	conn *pgx.Conn
	done bool // finish ran: pgx may end a batch twice, and rows ended by a release may be closed later
}

// An end is the value of a lifetime: how it ended, told before the
// release runs. It holds nothing that reaches the lifetime's handle.
type end struct {
	kind   lifeKind
	by     string // a ClosedBy value; "" for db.conn
	result string // db.tx: TxCommit, TxRollback, or "" when not known
	err    error
}

// release is the release of every lifetime this package starts: pgx has
// already ended what the lifetime stands for (or is about to, for a
// release); it only says how.
func release(ctx context.Context, e *end) error {
	var buf [2]attribute.KeyValue
	attrs := buf[:0]
	if e.by != "" {
		attrs = append(attrs, ClosedByKey.String(e.by))
	}
	if e.result != "" {
		attrs = append(attrs, TxResultKey.String(e.result))
	}
	if len(attrs) > 0 {
		setEndAttributes(ctx, attrs...)
	}
	if e.by == ClosedByRelease {
		missedClose(ctx, "guardpgx: the pool connection was released with the "+kindNames[e.kind]+" still open; pgxpool closed the connection")
	}
	return e.err
}

// start starts a lifetime of kind k for conn, acquired with ctx (the
// Request, Tracker and parent span are ctx's).
func (t *tracer) start(ctx context.Context, conn *pgx.Conn, k lifeKind, sql string) *held {
	e := &end{kind: k}
	opts := t.acq[k]
	if t.cfg.queryText && sql != "" && k == kRows {
		opts = append(opts[:len(opts):len(opts)], otelguard.WithAttributes(semconv.DBQueryText(sql)))
	}
	return &held{res: otelguard.Acquire(ctx, kindNames[k], e, release, opts...), e: e, conn: conn}
}

// finish ends h, told by whom; err, if not nil, makes the outcome failed.
func (h *held) finish(by string, err error) {
	if h.done {
		return
	}
	h.done = true
	h.e.by, h.e.err = by, err
	_ = h.res.Close(context.Background()) // the release's error is the span's
}

// connState is what the tracer keeps per connection, in its CustomData.
type connState struct {
	rows  *held     // the rows open on it, if any (pgx allows one at a time)
	batch *held     // the batch results open on it, if any
	tx    *held     // the transaction open on it, if any
	out   *checkout // the pool checkout it is in, if any
}

// state returns conn's connState, making it on first use.
func (t *tracer) state(conn *pgx.Conn) *connState {
	data := conn.PgConn().CustomData()
	if cs, ok := data[t.connKey].(*connState); ok {
		return cs
	}
	cs := &connState{}
	data[t.connKey] = cs
	return cs
}

// holding tells a pool checkout what holds its connection now.
func (cs *connState) holding() {
	if cs.out == nil {
		return
	}
	k := kConn
	switch {
	case cs.rows != nil:
		k = kRows
	case cs.batch != nil:
		k = kBatch
	case cs.tx != nil:
		k = kTx
	}
	cs.out.kind.Store(uint32(k))
}

// rowsKey is the context key of the rows a Query opened (a *held).
type rowsKey struct{}

// TraceQueryStart starts a db.rows lifetime for a Query (or QueryRow),
// acquired with the query's context; an Exec holds nothing after it
// returns and gets none.
func (t *tracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !calledByQuery() {
		if ctx.Value(rowsKey{}) != nil {
			// An Exec under a query's context (a QueryRewriter's): its
			// end must not end the query's rows.
			return context.WithValue(ctx, rowsKey{}, (*held)(nil))
		}
		return ctx
	}
	h := t.start(ctx, conn, kRows, data.SQL)
	if cs := t.state(conn); cs.rows == nil {
		cs.rows = h
		cs.holding()
	}
	return context.WithValue(ctx, rowsKey{}, h)
}

// TraceQueryEnd ends the db.rows lifetime of a Query when pgx closes its
// rows, and watches the connection's transaction status after any query.
func (t *tracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	cs := t.state(conn)
	if h, _ := ctx.Value(rowsKey{}).(*held); h != nil && h.conn == conn {
		if cs.rows == h {
			cs.rows = nil
		}
		h.finish(ClosedByCaller, nil)
	}
	t.watchTx(ctx, conn, cs, data.CommandTag.String(), data.Err)
	cs.holding()
}

// watchTx starts or ends the connection's db.tx lifetime as its
// transaction status says, after a statement that may have changed it:
// a transaction is open when the server says so (Begin's "begin", or any
// statement that began one), and ends when the server says it is idle
// again, with the result the closing statement tells: its command tag
// (COMMIT, or ROLLBACK, which is also what a Commit of a failed
// transaction gets), or its error (the server ended the transaction
// without committing it). A batch tells neither: its result is not set.
func (t *tracer) watchTx(ctx context.Context, conn *pgx.Conn, cs *connState, tag string, err error) {
	switch st := conn.PgConn().TxStatus(); {
	case cs.tx == nil && (st == 'T' || st == 'E'):
		cs.tx = t.start(ctx, conn, kTx, "")
	case cs.tx != nil && st == 'I':
		h := cs.tx
		cs.tx = nil
		switch {
		case tag == "COMMIT":
			h.e.result = TxCommit
		case tag == "ROLLBACK" || err != nil:
			h.e.result = TxRollback
		}
		h.finish(ClosedByCaller, nil)
	case cs.tx != nil && conn.IsClosed():
		h := cs.tx
		cs.tx = nil
		h.e.result = TxRollback
		h.finish(ClosedByConnection, err)
	}
}

// TraceBatchStart starts a db.batch lifetime, acquired with SendBatch's
// context: the results hold the connection until they are closed.
func (t *tracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	cs := t.state(conn)
	h := t.start(ctx, conn, kBatch, "")
	if cs.batch == nil {
		cs.batch = h
		cs.holding()
	}
	return context.WithValue(ctx, batchKey{}, h)
}

// batchKey is the context key of the batch SendBatch sent (a *held).
type batchKey struct{}

// TraceBatchQuery does nothing: a batch's rows are the batch's.
func (t *tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd ends the db.batch lifetime. pgx calls it when the
// results are closed, and also, for a batch that failed early, inside
// SendBatch and again at Close: the first call ends it.
func (t *tracer) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	cs := t.state(conn)
	if h, _ := ctx.Value(batchKey{}).(*held); h != nil && h.conn == conn {
		if cs.batch == h {
			cs.batch = nil
		}
		h.finish(ClosedByCaller, nil)
	}
	t.watchTx(ctx, conn, cs, "", data.Err)
	cs.holding()
}

// TraceAcquireStart counts a pending acquire and notes when it began.
func (t *tracer) TraceAcquireStart(ctx context.Context, pool *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	ps := t.poolState(pool)
	ps.pending.Add(1)
	return context.WithValue(ctx, acquireKey{}, &acquire{ps: ps, start: now()})
}

// TraceAcquireEnd starts the checkout (a db.conn lifetime when it is the
// caller's own), or reports a failed acquire.
func (t *tracer) TraceAcquireEnd(ctx context.Context, pool *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	a, _ := ctx.Value(acquireKey{}).(*acquire)
	if a == nil {
		return
	}
	a.ps.pending.Add(-1)
	at := now()
	if data.Err != nil || data.Conn == nil {
		t.acquireFailed(ctx, a, at, data.Err)
		return
	}
	t.meters.recordWait(ctx, a.ps, at.Sub(a.start))
	co := &checkout{ps: a.ps, at: at, parent: trace.SpanContextFromContext(ctx)}
	co.stack.capture()
	var explicit bool
	co.pcs, explicit = co.stack.user(t.cfg.skip, fPoolAcq)
	if explicit {
		co.held = t.start(ctx, data.Conn, kConn, "")
	}
	cs := t.state(data.Conn)
	cs.out = co
	cs.holding()
	a.ps.add(co)
}

// TraceRelease ends the checkout. Rows, a batch or a transaction still open
// on the connection make pgxpool close it (the server ends them): they end
// as missed closes, closed_by=release — or closed_by=connection when pgx
// had closed the connection already.
func (t *tracer) TraceRelease(_ *pgxpool.Pool, data pgxpool.TraceReleaseData) {
	if data.Conn == nil {
		return
	}
	cs := t.state(data.Conn)
	// A connection that pgx closed already (a network error, a failed
	// Commit, which closes it) ended them itself: not a missed close.
	by := ClosedByRelease
	if data.Conn.IsClosed() {
		by = ClosedByConnection
	}
	if h := cs.rows; h != nil {
		cs.rows = nil
		h.finish(by, nil)
	}
	if h := cs.batch; h != nil {
		cs.batch = nil
		h.finish(by, nil)
	}
	if h := cs.tx; h != nil && (by == ClosedByConnection || data.Conn.PgConn().TxStatus() != 'I') {
		cs.tx = nil
		h.e.result = TxRollback
		h.finish(by, nil)
	}
	co := cs.out
	cs.out = nil
	if co == nil {
		return
	}
	co.ps.remove(co)
	t.meters.recordUse(co.ps, now().Sub(co.at))
	if co.held != nil {
		co.held.finish("", nil)
	}
}
