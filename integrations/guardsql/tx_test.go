package guardsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/debug"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

func TestTxCommitAndRollback(t *testing.T) {
	for _, commit := range []bool{true, false} {
		want := guardsql.TxRollback
		if commit {
			want = guardsql.TxCommit
		}
		t.Run(want, func(t *testing.T) {
			rec := otelguardtest.NewTracker(t)
			db := openSQLite(t)
			tx, err := db.BeginTx(rec.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("insert into t values (4)"); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			l := lifetimeNamed(t, rec, guardsql.SpanTx)
			wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
			wantAttr(t, l, string(guardsql.TxResultKey), want)
			wantAttr(t, l, string(guardsql.ClosedByKey), guardsql.ClosedByCaller)
			var n int
			if err := db.QueryRow("select count(*) from t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if commit && n != 4 || !commit && n != 3 {
				t.Errorf("%d rows after %s", n, want)
			}
			if err := tx.Commit(); err != sql.ErrTxDone {
				t.Errorf("second Commit: %v, want sql.ErrTxDone", err)
			}
		})
	}
}

// TestTxRolledBackByContext: a transaction still open when its context
// ends is rolled back by database/sql; the lifetime says so.
func TestTxRolledBackByContext(t *testing.T) {
	rec := newRecorder(t) // a missed close fails otelguardtest's check
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(rec.Context())
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("insert into t values (4)"); err != nil {
		t.Fatal(err)
	}
	cancel() // the request ended before Commit
	l := lifetimeNamed(t, rec, guardsql.SpanTx)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerCancel)
	wantAttr(t, l, string(guardsql.TxResultKey), guardsql.TxRollback)
	wantMissedClose(t, l)
	if err := tx.Commit(); err == nil {
		t.Fatal("Commit after the context ended succeeded")
	}
	var n int
	if err := db.QueryRow("select count(*) from t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows (%v) after the rollback, want 3", n, err)
	}
}

//go:noinline
func forgetTx(db *sql.DB) int {
	_, _ = db.BeginTx(context.Background(), nil) //otelguard:handoff forgotten on purpose: database/sql's goroutine holds it
	return line() - 1
}

// TestForgottenTx: database/sql's own goroutine holds a transaction until
// its context ends — forever, for context.Background — so the collector
// never finds one the code forgot. The hold threshold, Live, the live view
// and Shutdown each name it, with the line that began it.
func TestForgottenTx(t *testing.T) {
	rec := newRecorder(t)
	db := openSQLite(t, guardsql.WithTracker(rec.tr), guardsql.WithHoldThreshold(20*time.Millisecond))
	at := forgetTx(db)
	site := "guardsql_test.forgetTx(...)"

	// Not a leak the collector can find.
	for range 3 {
		runtime.GC()
		if err := rec.tr.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rec.exp.Leaks()); n != 0 {
		t.Fatalf("%d leaks reported; database/sql holds the transaction", n)
	}

	// The hold threshold.
	waitFor(t, "the hold threshold's warning", func() bool {
		return strings.Contains(rec.log.String(), "lifetime held too long")
	})
	first := fmt.Sprintf(`code.stacktrace.0="github.com/otelguard/otelguard-go/integrations/guardsql_test.forgetTx %s:%d"`, txTestFile(), at)
	if log := rec.log.String(); !contains(log, "otelguard.name=db.tx", first) {
		t.Errorf("the warning does not name db.tx with %s first:\n%s", first, log)
	}

	// Live.
	live := rec.tr.Live()
	if len(live) != 1 || live[0].Name != guardsql.SpanTx {
		t.Fatalf("Live: %+v, want one db.tx", live)
	}
	if !strings.Contains(live[0].Stack, site) || !strings.HasPrefix(live[0].Stack, "github.com/otelguard/otelguard-go/integrations/"+site) {
		t.Errorf("Live stack does not start at %s:\n%s", site, live[0].Stack)
	}

	// The live view, as a person would read it.
	w := httptest.NewRecorder()
	debug.Handler(rec.tr).ServeHTTP(w, httptest.NewRequest("GET", debug.Path+"?debug=1", nil))
	if body := w.Body.String(); w.Code != 200 || !contains(body, "db.tx", "forgetTx") {
		t.Errorf("live view (%d) does not show the transaction:\n%s", w.Code, body)
	}

	// Shutdown.
	if err := rec.tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := rec.ended(t, guardsql.SpanTx)
	wantEnd(t, l, otelguard.OutcomeOpenAtShutdown, otelguard.TriggerShutdown)
	wantSite(t, l, "forgetTx", at)
	var held bool
	for _, ev := range l.Span.Events {
		held = held || ev.Name == attrkey.EventHoldExceeded
	}
	if !held {
		t.Errorf("no %s event on the span", attrkey.EventHoldExceeded)
	}
}

func txTestFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(file)
}
