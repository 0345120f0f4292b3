package guardsql_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
)

// TestPoolAfterLeak measures what the pool does once rows were leaked:
// database/sql counts their connections in use for good (nothing can give
// them back once their *sql.Rows is garbage), so a pool of two that leaked
// two rows serves nothing more, and every query waits until its context
// ends. The leaks are reported, each naming its query.
func TestPoolAfterLeak(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr))
	db.SetMaxOpenConns(2)
	before := db.Stats()
	leakQuery(db)
	leakQuery(db)
	waitFor(t, "both leaks to be reported", func() bool {
		rec.leaked(t, guardsql.SpanRows)
		return len(rec.exp.Leaks()) == 2
	})
	after := db.Stats()
	t.Logf("before: %+v", before)
	t.Logf("after two leaks were found: %+v", after)
	if after.OpenConnections != 2 || after.InUse != 2 || after.Idle != 0 {
		t.Errorf("after the leaks: %+v, want 2 open, 2 in use, 0 idle", after)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "select 1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a query on the exhausted pool: %v, want a deadline error", err)
	}
	waited := db.Stats()
	t.Logf("after one more query timed out: %+v", waited)
	if waited.WaitCount != after.WaitCount+1 || waited.InUse != 2 {
		t.Errorf("after waiting: %+v, want one more wait and 2 in use", waited)
	}
}
