package guardsql_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/internal/pgtest"
)

// The PostgreSQL tests share one server, started by the first that needs
// it and stopped by TestMain: starting one costs a second or two.
var (
	pgOnce    sync.Once
	pgServer  *pgtest.Server
	pgMissing error
)

// postgres returns the shared server, skipping t if there can be none and
// failing it if it did not start.
func postgres(t *testing.T) *pgtest.Server {
	t.Helper()
	pgOnce.Do(startShared)
	if errors.Is(pgMissing, pgtest.ErrNoServer) {
		t.Skipf("%v (apt-get install -y postgresql)", pgMissing)
	}
	if pgMissing != nil {
		t.Fatal(pgMissing)
	}
	return pgServer
}

func startShared() { pgServer, pgMissing = pgtest.New() }

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		if err := pgServer.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
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
