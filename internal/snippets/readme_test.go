package snippets

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// The README's first snippet, run against a database/sql driver of this
// file's own (the root module has no database driver to lean on).
import "github.com/otelguard/otelguard-go/otelguard"

func transfer(ctx context.Context, db *sql.DB, amount int) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	// A resource: released by Close; if the handle is dropped instead, the
	// GC reports a leaked_without_close span naming this line.
	conn := otelguard.Track(ctx, "db.conn", c)
	defer conn.Close(ctx)

	tx, err := conn.Value().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// A guard: runs unless disarmed, also while a panic unwinds.
	rollback := otelguard.NewGuard(ctx, "tx.rollback", func(context.Context) error { return tx.Rollback() })
	defer rollback.Run()

	if err := debitAndCredit(ctx, tx, amount); err != nil {
		return err // rolled back: span tx.rollback, outcome cleaned, trigger defer
	}
	rollback.Disarm() // span tx.rollback, outcome disarmed
	return tx.Commit()
}

var errFunds = errors.New("insufficient funds")

func debitAndCredit(_ context.Context, _ *sql.Tx, amount int) error {
	if amount > 100 {
		return errFunds
	}
	return nil
}

func TestReadmeTransfer(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := sql.OpenDB(fakeConnector{log: &fakeLog{}})
	defer db.Close()
	ctx := rec.Context()
	if err := transfer(ctx, db, 10); err != nil {
		t.Fatal(err)
	}
	if err := transfer(ctx, db, 1000); !errors.Is(err, errFunds) {
		t.Fatalf("transfer = %v", err)
	}
	var got []string
	for _, l := range rec.Lifetimes() {
		got = append(got, l.Name+" "+string(l.Outcome)+" "+string(l.Trigger))
	}
	want := []string{
		"tx.rollback disarmed disarm", "db.conn cleaned close",
		"tx.rollback cleaned defer", "db.conn cleaned close",
	}
	if len(got) != len(want) {
		t.Fatalf("lifetimes %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("lifetimes %q, want %q", got, want)
		}
	}
}

// fakeLog records what the fake driver was asked to do.
type fakeLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *fakeLog) add(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
}

// fakeConnector, fakeConn and fakeTx are the least of a database/sql
// driver that begins, commits and rolls back.
type fakeConnector struct{ log *fakeLog }

func (c fakeConnector) Connect(context.Context) (driver.Conn, error) { return fakeConn(c), nil }
func (fakeConnector) Driver() driver.Driver                          { return nil }

type fakeConn struct{ log *fakeLog }

func (fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: no statements") }
func (fakeConn) Close() error                        { return nil }
func (c fakeConn) Begin() (driver.Tx, error)         { c.log.add("begin"); return fakeTx(c), nil }

type fakeTx struct{ log *fakeLog }

func (t fakeTx) Commit() error   { t.log.add("commit"); return nil }
func (t fakeTx) Rollback() error { t.log.add("rollback"); return nil }

// Track needs an io.Closer: *sql.Conn is one.
var _ io.Closer = (*sql.Conn)(nil)
