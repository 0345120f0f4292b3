package guardsql_test

import (
	"context"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
	"go.opentelemetry.io/otel/attribute"
)

// TestRowsOutliveRequest: a handler that forgets rows.Close under an
// otelguard Request (guardhttp.NewHandler makes one per HTTP request) is
// told at the request's end, before its context is cancelled; database/sql
// then closes the rows.
func TestRowsOutliveRequest(t *testing.T) {
	rec := newRecorder(t) // a missed close fails otelguardtest's check
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(rec.Context())
	ctx, req := otelguard.ContextWithRequest(ctx, attribute.String("http.route", "/items"))
	rows, err := db.QueryContext(ctx, "select x from t")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next() // and the handler returns
	out := req.End()
	if len(out) != 1 || out[0].Name != guardsql.SpanRows {
		t.Fatalf("Request.End: %+v, want the db.rows", out)
	}
	cancel() // net/http cancels the request's context after the handler
	l := lifetimeNamed(t, rec, guardsql.SpanRows)
	wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerCancel)
	wantMissedClose(t, l)
	var outlived bool
	for _, ev := range l.Span.Events {
		outlived = outlived || ev.Name == attrkey.EventOutlived
	}
	if !outlived {
		t.Errorf("no %s event", attrkey.EventOutlived)
	}
}

// TestStmtOnTwoConnections: database/sql prepares a *sql.Stmt again on
// another connection when its own is busy; each preparation is a db.stmt
// lifetime, the second acquired where the statement was used.
func TestStmtOnTwoConnections(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t)
	ctx := rec.Context()
	s, err := db.PrepareContext(ctx, "select x from t where x = ?")
	if err != nil {
		t.Fatal(err)
	}
	busy, err := db.Conn(ctx) // the pool's only connection, which s was prepared on
	if err != nil {
		t.Fatal(err)
	}
	var x int
	if err := s.QueryRowContext(ctx, 3).Scan(&x); err != nil || x != 3 { // prepared again on a new connection
		t.Fatalf("Scan: %d, %v", x, err)
	}
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var stmts int
	for _, l := range rec.Lifetimes() {
		if l.Name == guardsql.SpanStmt {
			stmts++
			wantEnd(t, l, otelguard.OutcomeCleaned, otelguard.TriggerClose)
		}
	}
	if stmts != 2 {
		t.Errorf("%d db.stmt lifetimes, want 2: %v", stmts, rec.Lifetimes())
	}
}
