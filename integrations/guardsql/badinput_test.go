package guardsql_test

import (
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

func TestBadInput(t *testing.T) {
	t.Run("OpenDB(nil) panics", func(t *testing.T) {
		defer func() {
			if v, _ := recover().(string); !strings.HasPrefix(v, "guardsql: ") {
				t.Errorf("recovered %q, want a guardsql: panic", v)
			}
		}()
		guardsql.OpenDB(nil)
	})
	t.Run("an unknown driver is sql.Open's error", func(t *testing.T) {
		if _, err := guardsql.Open("no-such-driver", ""); err == nil || !strings.Contains(err.Error(), "unknown driver") {
			t.Errorf("Open: %v", err)
		}
	})
	t.Run("nil options, a nil Tracker and an empty system name are ignored", func(t *testing.T) {
		rec := otelguardtest.NewTracker(t)
		db := openSQLite(t, nil, guardsql.WithTracker(nil), guardsql.WithSystemName(""))
		rows, err := db.QueryContext(rec.Context(), "select x from t")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		wantAttr(t, lifetimeNamed(t, rec, guardsql.SpanRows), "db.system.name", "sqlite")
	})
	t.Run("Unwrap of anything else is its argument", func(t *testing.T) {
		if v := guardsql.Unwrap(42); v != 42 {
			t.Errorf("Unwrap(42) = %v", v)
		}
	})
}
