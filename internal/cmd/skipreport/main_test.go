package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// The testdata files are go test -json output (Go 1.26) of the package in
// testdata/sample, with the checkout's path replaced by /repo:
//
//   - sample.json: go test -json -count=1 ./testdata/sample (every test;
//     TestFail fails);
//   - bench.json: go test -json -count=1 -run '^$' -bench . -benchtime 1x
//     ./testdata/sample (BenchmarkSkip skips);
//   - hang.json: SAMPLE_HANG=1 go test -json -count=1 -run 'TestPass|TestHang'
//     -timeout 2s ./testdata/sample (TestHang is still running when the
//     timeout's panic ends the binary);
//   - buildfail.json: go test -json of a package whose test does not
//     compile (example.com/bf/broken, a module made for it);
//   - benchpass.json: go test -json -run '^$' -bench . -benchtime 1x of a
//     module made for it (example.com/bb): BenchmarkA reports a metric,
//     BenchmarkB has a sub-benchmark and logs.

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// filtered runs filter over in and returns what it printed, checking that
// the raw copy is the input byte for byte.
func filtered(t *testing.T, in []byte) string {
	t.Helper()
	var raw, out bytes.Buffer
	if err := filter(bytes.NewReader(in), &raw, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw.Bytes(), in) {
		t.Errorf("the copy differs from the input:\n%s", raw.String())
	}
	return out.String()
}

// inOrder fails t unless each of want is in got, in this order.
func inOrder(t *testing.T, got string, want ...string) {
	t.Helper()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("missing %q (after what came before it) in:\n%s", w, got)
		}
		rest = rest[i+len(w):]
	}
}

func TestFilterShowsWhatGoTestShows(t *testing.T) {
	got := filtered(t, read(t, "sample.json"))
	const pkg = "github.com/otelguard/otelguard-go/internal/cmd/skipreport/testdata/sample"
	want := "    sample_test.go:28: what the failing test logged\n" +
		"    sample_test.go:29: it failed\n" +
		"--- FAIL: TestFail (0.00s)\n" +
		"FAIL\n" +
		"FAIL\t" + pkg + "\t0.007s\n"
	if got != want {
		t.Errorf("filter printed\n%s\nwant (as go test without -json)\n%s", got, want)
	}
}

func TestFilterBenchmarks(t *testing.T) {
	got := filtered(t, read(t, "bench.json"))
	inOrder(t, got, "goos: linux\n", "cpu: ", "ok  \t")
	if strings.Contains(got, "needs a server") {
		t.Errorf("a skipped benchmark's message was printed:\n%s", got)
	}
}

// Benchmark results are printed as they come, as go test prints them.
func TestFilterBenchmarkResults(t *testing.T) {
	got := filtered(t, read(t, "benchpass.json"))
	inOrder(t, got, "cpu: AMD EPYC\n",
		"BenchmarkA-2   \t       1\t       ", " ns/op\t         3.000 cycles\n",
		"BenchmarkB/x=1-2         \t       1\t       ", " ns/op\n",
		"ok  \texample.com/bb\t")
	if strings.Contains(got, "BenchmarkA\n") || strings.Contains(got, "=== RUN") {
		t.Errorf("a benchmark's start was printed:\n%s", got)
	}
}

// A test still running when the binary dies: its output, with the
// timeout's panic that names it, comes before the package's FAIL line.
func TestFilterTimeout(t *testing.T) {
	got := filtered(t, read(t, "hang.json"))
	inOrder(t, got, "about to hang", "panic: test timed out after 2s", "TestHang (2s)", "sample_test.go:41", "FAIL\tgithub.com/")
	if strings.Contains(got, "=== RUN") {
		t.Errorf("progress lines printed:\n%s", got)
	}
}

func TestFilterBuildFailure(t *testing.T) {
	got := filtered(t, read(t, "buildfail.json"))
	want := "# example.com/bf/broken [example.com/bf/broken.test]\n" +
		"broken/broken_test.go:5:28: undefined: undefinedThing\n" +
		"FAIL\texample.com/bf/broken [build failed]\n"
	if got != want {
		t.Errorf("filter printed\n%s\nwant\n%s", got, want)
	}
}

func TestFilterPassesOtherLines(t *testing.T) {
	in := []byte("go: downloading example.com/m v1.0.0\n{\"Action\":\"output\",\"Package\":\"p\",\"Output\":\"ok  \\tp\\t0.1s\\n\"}\nnot json {\n")
	got := filtered(t, in)
	want := "go: downloading example.com/m v1.0.0\nok  \tp\t0.1s\nnot json {\n"
	if got != want {
		t.Errorf("filter printed %q, want %q", got, want)
	}
}

func TestSkips(t *testing.T) {
	const pkg = "github.com/otelguard/otelguard-go/internal/cmd/skipreport/testdata/sample"
	var got []skip
	for _, f := range []string{"sample.json", "bench.json", "hang.json", "buildfail.json", "benchpass.json"} {
		s, err := skipsIn(bytes.NewReader(read(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s...)
	}
	want := []skip{
		{pkg, "TestSkipOneLine", "sample_test.go:15: no PostgreSQL server (apt-get install -y postgresql)", nil},
		{pkg, "TestSkipTwoLines", "sample_test.go:18: a log before the skip\nsample_test.go:19: first line\n    second line", nil},
		{pkg, "TestSub/skips", "sample_test.go:24: only on Tuesdays", nil},
		{pkg, "TestSkipNoReason", "", nil},
		{pkg, "TestHang", "sample_test.go:38: hangs only with SAMPLE_HANG=1", nil},
		{pkg, "BenchmarkSkip", "sample_test.go:34: needs a server", nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("skips:\n%q\nwant\n%q", got, want)
	}
}

func TestReport(t *testing.T) {
	var b strings.Builder
	report(&b, nil)
	if got := b.String(); got != "skipped tests: none\n" {
		t.Errorf("no skips: %q", got)
	}
	b.Reset()
	long := strings.TrimSuffix(strings.Repeat("log line\n", 10), "\n") + "\nf_test.go:9: the reason"
	report(&b, merge([]skip{
		{"a", "TestA", "a_test.go:1: no server", []string{"unit"}},
		{"b", "TestB", "", []string{"unit"}},
		{"a", "TestC/sub", "c_test.go:3: first\n    second", nil},
		{"a", "TestA", "a_test.go:1: no server", []string{"go127-unit"}},
		{"a", "TestA", "a_test.go:1: another reason", []string{"checkfinalizers"}},
		{"b", "TestLong", long, nil},
	}))
	want := `skipped tests: 5, in 2 packages
a
  SKIP TestA [unit, go127-unit]: a_test.go:1: no server
  SKIP TestC/sub: c_test.go:3: first
          second
  SKIP TestA [checkfinalizers]: a_test.go:1: another reason
b
  SKIP TestB [unit]: (no reason given)
  SKIP TestLong: ...
      log line
      log line
      log line
      log line
      log line
      f_test.go:9: the reason
`
	if got := b.String(); got != want {
		t.Errorf("report:\n%s\nwant\n%s", got, want)
	}
}

// TestWithThisGo runs go test -json with the go command on $PATH, in this
// test's environment (make test-go127 sets GOTOOLCHAIN, so that it is the
// next Go): the format skipreport reads is the one that Go writes.
func TestWithThisGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on $PATH")
	}
	if v, err := exec.Command(gobin, "env", "GOVERSION").Output(); err == nil {
		t.Logf("go test -json of %s (this test runs on %s)", strings.TrimSpace(string(v)), runtime.Version())
	}
	cmd := exec.Command(gobin, "test", "-json", "-count=1", "-run", "^(TestSkipOneLine|TestSub|TestFail)$", "./testdata/sample")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	in, err := cmd.Output()
	if _, ok := err.(*exec.ExitError); !ok && err != nil { // TestFail fails: exit status 1
		t.Fatal(err)
	}
	got := filtered(t, in)
	inOrder(t, got, "it failed", "--- FAIL: TestFail", "FAIL\tgithub.com/")
	skips, err := skipsIn(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range skips {
		names = append(names, s.test+": "+s.reason)
	}
	want := []string{
		"TestSkipOneLine: sample_test.go:15: no PostgreSQL server (apt-get install -y postgresql)",
		"TestSub/skips: sample_test.go:24: only on Tuesdays",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("skips with %s: %q, want %q", runtime.Version(), names, want)
	}
}
