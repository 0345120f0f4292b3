package guardsql_test

import (
	"context"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
)

// TestCancelRacesClose: contexts ending while the code reads, closes,
// commits or rolls back, from several goroutines at once. Whoever wins,
// every lifetime ends exactly once; one that database/sql closed or rolled
// back because its context ended has trigger cancel; each is cleaned,
// except a commit that the context's end made the driver refuse (failed,
// error.type=canceled: the driver's own verdict, which Commit returns);
// and every connection goes back to the pool.
func TestCancelRacesClose(t *testing.T) {
	rec := newRecorder(t) // missed closes (cases 1 and 3) fail otelguardtest's check
	db := openSQLite(t)
	db.SetMaxOpenConns(4)
	const workers, rounds = 4, 150
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				ctx, cancel := context.WithCancel(rec.Context())
				switch (w + i) % 4 {
				case 0: // rows closed by the caller as the context ends
					rows, err := db.QueryContext(ctx, "select x from t")
					if err != nil {
						t.Error(err)
						cancel()
						continue
					}
					rows.Next()
					go cancel()
					rows.Close()
				case 1: // rows left for the context to close
					rows, err := db.QueryContext(ctx, "select x from t")
					if err != nil {
						t.Error(err)
					} else {
						rows.Next()
					}
					cancel()
				case 2: // a commit as the context ends
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						t.Error(err)
						cancel()
						continue
					}
					go cancel()
					_ = tx.Commit()
				case 3: // a transaction left for the context to roll back
					if _, err := db.BeginTx(ctx, nil); err != nil {
						t.Error(err)
					}
					cancel()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	waitFor(t, "every connection back in the pool", func() bool { return db.Stats().InUse == 0 })
	if err := rec.tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if live := rec.tr.Live(); len(live) != 0 {
		t.Fatalf("%d lifetimes still open", len(live))
	}
	counts := map[string]int{}
	ls := rec.Lifetimes()
	if len(ls) != workers*rounds {
		t.Errorf("%d lifetimes ended, want %d", len(ls), workers*rounds)
	}
	for _, l := range ls {
		by, _ := attr(l, string(guardsql.ClosedByKey))
		result, _ := attr(l, string(guardsql.TxResultKey))
		counts[l.Name+" "+string(l.Outcome)+" "+string(l.Trigger)+" "+by+" "+result]++
		refused := l.Outcome == otelguard.OutcomeFailed && l.ErrorType == "canceled" && result == guardsql.TxCommit
		if l.Outcome != otelguard.OutcomeCleaned && !refused {
			t.Errorf("%s ended %s: %v", l.Name, l.Outcome, l.Span.Attributes)
		}
		if by == guardsql.ClosedByContext && l.Trigger != otelguard.TriggerCancel {
			t.Errorf("%s: closed_by=context with trigger %s", l.Name, l.Trigger)
		}
		missedBy := by == guardsql.ClosedByContext || by == guardsql.ClosedByTransaction
		if missed, _ := attr(l, "otelguard.missed_close"); (missed == "true") != missedBy {
			t.Errorf("%s: closed_by=%s, missed_close=%q: a missed close is exactly closed_by=context or transaction", l.Name, by, missed)
		}
	}
	t.Logf("ends: %v", counts)
}
