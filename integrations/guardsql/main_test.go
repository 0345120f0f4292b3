package guardsql_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/internal/pgtest"
)

// The PostgreSQL tests share one server, started by the first that needs
// it and stopped by TestMain.
var pg pgtest.Shared

// postgres returns the shared server. If there is none, pgtest.Missing
// skips t saying why (or fails it under CI=true, where .ci/run installs the
// server); if it did not start, t fails.
func postgres(t testing.TB) *pgtest.Server {
	t.Helper()
	return pg.Get(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func pgTestFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "pg_test.go")
}

// lineOf returns the line of file that ends with marker, or 0.
func lineOf(file, marker string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(l, marker) && !strings.Contains(l, "lineOf(") {
			return i + 1
		}
	}
	return 0
}
