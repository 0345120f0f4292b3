// Package sample is the test package whose go test -json output is in
// ../*.json: a pass, skips (with one line of reason and two, in a subtest,
// with none), a failure with a log, a benchmark that skips, and a test
// that hangs until the test binary's timeout. skipreport's main_test.go
// says how each file was made.
package sample

import (
	"os"
	"testing"
)

func TestPass(t *testing.T) { t.Log("passing tests' logs are not shown") }

func TestSkipOneLine(t *testing.T) { t.Skip("no PostgreSQL server (apt-get install -y postgresql)") }

func TestSkipTwoLines(t *testing.T) {
	t.Log("a log before the skip")
	t.Skipf("first line\nsecond line")
}

func TestSub(t *testing.T) {
	t.Run("runs", func(t *testing.T) {})
	t.Run("skips", func(t *testing.T) { t.Skip("only on Tuesdays") })
}

func TestFail(t *testing.T) {
	t.Log("what the failing test logged")
	t.Error("it failed")
}

func TestSkipNoReason(t *testing.T) { t.SkipNow() }

func BenchmarkSkip(b *testing.B) { b.Skip("needs a server") }

func TestHang(t *testing.T) {
	if os.Getenv("SAMPLE_HANG") == "" {
		t.Skip("hangs only with SAMPLE_HANG=1")
	}
	t.Log("about to hang")
	select {}
}
