package guardsql_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// leftOpenEnv names what TestHelperLeavesOpen leaves open: rows or tx.
const leftOpenEnv = "GUARDSQL_LEAVES_OPEN"

// TestHelperLeavesOpen is a test with the bug otelguardtest must catch:
// it leaves rows, or a transaction, open under rec.Context(). That context
// comes from t.Context(), which the testing package cancels before the
// cleanups run, so database/sql closes the rows (rolls the transaction
// back) before otelguardtest's check. Run by
// TestOtelguardtestFailsWhatATestLeftOpen.
func TestHelperLeavesOpen(t *testing.T) {
	what := os.Getenv(leftOpenEnv)
	if what == "" {
		t.Skip("run by TestOtelguardtestFailsWhatATestLeftOpen")
	}
	rec := otelguardtest.NewTracker(t)
	db := openSQLite(t)
	switch what {
	case "rows":
		rows, err := db.QueryContext(rec.Context(), "select x from t")
		if err != nil {
			t.Fatal(err)
		}
		rows.Next() // and the test forgets rows.Close
	case "tx":
		tx, err := db.BeginTx(rec.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("insert into t values (4)"); err != nil {
			t.Fatal(err)
		}
		// and the test forgets Commit
	}
}

// otelguardtest fails a test that leaves rows or a transaction open, also
// when database/sql closed them because the test's own context ended
// before the check (issue 23, miss 2: the lifetime ended cleaned and the
// test passed). The test runs in a subprocess, with a real *testing.T and
// its t.Context().

func TestOtelguardtestFailsWhatATestLeftOpen(t *testing.T) {
	for what, span := range map[string]string{"rows": guardsql.SpanRows, "tx": guardsql.SpanTx} {
		t.Run(what, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLeavesOpen$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), leftOpenEnv+"="+what)
			out, err := cmd.CombinedOutput()
			failed := err != nil && strings.Contains(string(out), "--- FAIL: TestHelperLeavesOpen")
			if !failed {
				t.Fatalf("the test that left its %s open passed:\n%s", span, out)
			}
			if !strings.Contains(string(out), span) || !strings.Contains(string(out), "leftopen_test.go:") {
				t.Errorf("the failure does not name %s and the line that acquired it:\n%s", span, out)
			}
		})
	}
}
