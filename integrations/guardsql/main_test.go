package guardsql_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardsql/internal/pgtest"
)

// pgT is the testing.TB the shared PostgreSQL server is started with: it
// lives for the whole test binary, and is stopped by TestMain.
type pgT struct {
	testing.TB
	cleanups []func()
	skipped  string
}

func (t *pgT) Helper()                  {}
func (t *pgT) Cleanup(f func())         { t.cleanups = append(t.cleanups, f) }
func (t *pgT) Skipf(f string, a ...any) { t.skipped = fmt.Sprintf(f, a...); runtime.Goexit() }
func (t *pgT) Fatalf(f string, a ...any) {
	t.skipped = "failed to start: " + fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (t *pgT) Fatal(a ...any)            { t.skipped = "failed to start: " + fmt.Sprint(a...); runtime.Goexit() }
func (t *pgT) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }

var sharedT = &pgT{}

// startShared starts the server the PostgreSQL tests share, or returns
// nil (and says why) if it cannot.
func startShared() *pgtest.Server {
	done := make(chan *pgtest.Server)
	go func() {
		var s *pgtest.Server
		defer func() { done <- s }()
		s = pgtest.Start(sharedT)
	}()
	s := <-done
	if s == nil {
		fmt.Fprintf(os.Stderr, "guardsql: PostgreSQL tests skipped: %s\n", sharedT.skipped)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(sharedT.cleanups) - 1; i >= 0; i-- {
		sharedT.cleanups[i]()
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
