package guardpgx_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/otelguard/otelguard-go/integrations/guardpgx"
	"github.com/otelguard/otelguard-go/otelguard"
)

const txFile = "tx_test.go"

// TestTxCommitRollback: a transaction committed or rolled back ends its
// db.tx with the result; a Commit of a failed transaction is a rollback.
func TestTxCommitRollback(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t))

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	tx, err = pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "select 1/0"); err == nil {
		t.Fatal("select 1/0 did not fail")
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("Commit of a failed transaction: %v", err)
	}

	if out := req.End(); len(out) != 0 {
		t.Fatalf("Request.End reported %v", names(out))
	}
	ls := rec.named(guardpgx.SpanTx)
	if len(ls) != 3 {
		t.Fatalf("%d db.tx ended, want 3", len(ls))
	}
	for i, want := range []string{guardpgx.TxCommit, guardpgx.TxRollback, guardpgx.TxRollback} {
		wantEnd(t, ls[i], otelguard.OutcomeCleaned, otelguard.TriggerClose)
		wantAttr(t, ls[i], string(guardpgx.TxResultKey), want)
		wantAttr(t, ls[i], string(guardpgx.ClosedByKey), guardpgx.ClosedByCaller)
		wantAttr(t, ls[i], "db.system.name", "postgresql")
	}
	if n := len(rec.named(guardpgx.SpanConn)); n != 0 {
		t.Errorf("%d db.conn for Pool.Begin's checkouts, want 0: the db.tx holds them", n)
	}
}

// TestTxLeftOpen: a transaction left open holds its connection; it is
// reported when the Request ends, naming Begin's line.
func TestTxLeftOpen(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx, req := otelguard.ContextWithRequest(rec.ctx(t))
	tx, err := pool.Begin(ctx) // never committed
	at := line() - 1
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) // should the test fail first
	out := req.End()
	if !slices.Equal(names(out), []string{guardpgx.SpanTx}) {
		t.Fatalf("Request.End: %v, want [db.tx]", names(out))
	}
	if re := firstFrame("TestTxLeftOpen", txFile, at); !re.MatchString(rec.log.String()) {
		t.Errorf("no record whose stack starts at %s:%d; log:\n%s", txFile, at, rec.log)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	l := rec.one(t, guardpgx.SpanTx)
	wantAttr(t, l, string(guardpgx.TxResultKey), guardpgx.TxRollback)
}

// TestTxReleasedOpen: a transaction begun on a checked-out connection
// that is released without Commit or Rollback makes pgxpool close the
// connection (the server rolls back): a missed close.
func TestTxReleasedOpen(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx := rec.ctx(t)
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	c.Release()
	l := rec.one(t, guardpgx.SpanTx)
	wantAttr(t, l, string(guardpgx.ClosedByKey), guardpgx.ClosedByRelease)
	wantAttr(t, l, string(guardpgx.TxResultKey), guardpgx.TxRollback)
	wantAttr(t, l, "otelguard.missed_close", "true")
}

// TestTxOnConn: ConfigureConn watches a plain connection's transactions
// and rows, with no pool.
func TestTxOnConn(t *testing.T) {
	rec := newRecorder(t)
	cfg, err := pgx.ParseConfig(postgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	guardpgx.ConfigureConn(cfg, guardpgx.WithTracker(rec.tr))
	ctx := t.Context() // the Tracker comes from WithTracker
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "select 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantAttr(t, rec.one(t, guardpgx.SpanTx), string(guardpgx.TxResultKey), guardpgx.TxCommit)
	wantEnd(t, rec.one(t, guardpgx.SpanRows), otelguard.OutcomeCleaned, otelguard.TriggerClose)
}

// TestTxConnectionLost: a transaction whose connection dies under it
// (its backend terminated) fails to commit; pgx closes the connection,
// and the db.tx ends closed_by=connection, a rollback, not a missed close.
func TestTxConnectionLost(t *testing.T) {
	rec := newRecorder(t)
	pool := newPool(t, 2, nil)
	ctx := rec.ctx(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) // should the test fail first
	pid := tx.Conn().PgConn().PID()
	var killed bool
	if err := pool.QueryRow(ctx, "select pg_terminate_backend($1)", pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d): %v, %v", pid, killed, err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("Commit on a terminated backend succeeded")
	}
	l := rec.one(t, guardpgx.SpanTx)
	wantAttr(t, l, string(guardpgx.ClosedByKey), guardpgx.ClosedByConnection)
	wantAttr(t, l, string(guardpgx.TxResultKey), guardpgx.TxRollback)
	wantNoAttr(t, l, "otelguard.missed_close")
}
