package guardsql_test

import (
	"context"
	"database/sql"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
)

// leakRowsIn queries db and drops the rows unclosed, with a context that
// can never end: the leak the collector finds.
//
//go:noinline
func leakRowsIn(t *testing.T, db *sql.DB) {
	rows, err := db.QueryContext(context.Background(), "select x from t") //otelguard:handoff dropped on purpose: the leak the test wants found
	if err != nil {
		t.Fatal(err)
	}
	_ = rows
}

// TestInABubble: guardsql inside a testing/synctest bubble, as a user
// tests a hold threshold without waiting for it: a transaction held past
// the threshold in fake time is named at once; rows dropped in the bubble
// are found by the collector (outside the bubble) without a fatal error,
// and released inside it by CloseAll (which returned only when its ctx
// ended, before the fix: the release waited for database/sql); the
// database closes cleanly, so the bubble ends with no goroutine left.
func TestInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t, otelguard.WithDefaultHoldThreshold(time.Second))
		db := openSQLite(t, guardsql.WithTracker(rec.tr))
		ctx := context.Background()

		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !strings.Contains(rec.log.String(), "lifetime held too long") {
			t.Errorf("no hold warning after 2s of fake time past a 1s threshold:\n%s", rec.log.String())
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		l := rec.ended(t, guardsql.SpanTx)
		wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		if d := l.Span.EndTime.Sub(l.Span.StartTime); d < 2*time.Second || time.Since(start) != 2*time.Second {
			t.Errorf("the transaction lasted %v, the bubble's clock moved %v: want the 2s of fake time", d, time.Since(start))
		}

		leakRowsIn(t, db)
		got := rec.leaked(t, guardsql.SpanRows)
		wantEnd(t, got, otelguard.OutcomeLeaked, otelguard.TriggerGC)
		if live := rec.tr.Live(); len(live) != 1 || !live[0].Leaked {
			t.Fatalf("Live = %+v, want the leaked rows waiting for CloseAll", live)
		}
		// The release ReleaseOnLeak could not run from outside the bubble:
		// CloseAll runs it inside (told, by ReleaseTrigger, that the rows
		// are garbage, so it closes them itself instead of waiting for
		// database/sql to ask). The pool's slot stays taken, as outside a
		// bubble: see "My requests hang" in README.md.
		done := make(chan error, 1)
		go func() { done <- rec.tr.CloseAll(ctx) }()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("CloseAll did not return: the leaked rows' release waits for a Close that cannot come")
		}
		if live := rec.tr.Live(); len(live) != 0 {
			t.Fatalf("Live after CloseAll = %+v", live)
		}
		runtime.GC()
	})
}
