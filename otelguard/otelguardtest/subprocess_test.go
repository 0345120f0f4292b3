package otelguardtest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// The tests here run this test binary again, in a child process, with
// helperEnv set, so that real tests (a real *testing.T, t.Parallel, a
// real TestMain) can fail without failing the parent.

// runChild runs the helper test named by run with helperEnv=mode and
// returns its output and exit code.
func runChild(t *testing.T, mode, run string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a child process")
	}
	args = append([]string{"-test.run=^" + run + "$", "-test.count=1", "-test.timeout=2m"}, args...)
	cmd := exec.Command(os.Args[0], args...)
	// The race detector sleeps a second at exit unless told not to.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "GORACE="+gorace)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestHelperParallel is run by TestParallelTestsInAChildProcess.
func TestHelperParallel(t *testing.T) {
	if os.Getenv(helperEnv) != "parallel" {
		t.Skip("a helper of TestParallelTestsInAChildProcess")
	}
	var both sync.WaitGroup // both run at once: neither ends before the other began
	both.Add(2)
	t.Run("leaky", func(t *testing.T) {
		t.Parallel()
		rec := otelguardtest.NewTracker(t)
		openAndForget(rec.Tracker)
		both.Done()
		both.Wait()
	})
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		rec := otelguardtest.NewTracker(t)
		openAndClose(rec.Tracker)
		g := otelguard.NewGuard(context.Background(), "g", nop, otelguard.WithTracker(rec.Tracker))
		defer g.Run()
		both.Done()
		both.Wait()
	})
}

func TestParallelTestsInAChildProcess(t *testing.T) {
	out, errOut, code := runChild(t, "parallel", "TestHelperParallel", "-test.parallel=2")
	all := out + errOut
	if code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, all)
	}
	if !strings.Contains(out, "--- FAIL: TestHelperParallel/leaky") {
		t.Errorf("the leaky test did not fail:\n%s", all)
	}
	if strings.Contains(out, "TestHelperParallel/clean") {
		t.Errorf("the clean test failed:\n%s", all)
	}
	if n := strings.Count(out, "unreleased lifetime"); n != 1 {
		t.Errorf("%d reports, want 1:\n%s", n, all)
	}
	if !strings.Contains(out, `resource "db.conn": leaked_without_close, acquired at:`) || !strings.Contains(out, ".openAndForget(") {
		t.Errorf("the report lacks the leak's evidence:\n%s", all)
	}
}

// leakOnDefault drops a handle acquired on otelguard.Default().
//
//go:noinline
func leakOnDefault() {
	//otelguard:handoff leaked on purpose: the test wants the GC's leaked_without_close report
	otelguard.Acquire(context.Background(), "default.leak", 0, release)
}

// TestHelperLeakOnDefault is run by TestVerifyTestMainInAChildProcess.
func TestHelperLeakOnDefault(t *testing.T) {
	if os.Getenv(helperEnv) != "verifytestmain" {
		t.Skip("a helper of TestVerifyTestMainInAChildProcess")
	}
	leakOnDefault()
}

// TestHelperCleanOnDefault is run by TestVerifyTestMainInAChildProcess.
func TestHelperCleanOnDefault(t *testing.T) {
	if os.Getenv(helperEnv) != "verifytestmain" {
		t.Skip("a helper of TestVerifyTestMainInAChildProcess")
	}
	r := otelguard.Acquire(context.Background(), "default.ok", 0, release)
	_ = r.Close(context.Background())
}

// TestHelperFailing is run by TestVerifyTestMainInAChildProcess.
func TestHelperFailing(t *testing.T) {
	if os.Getenv(helperEnv) != "verifytestmain" {
		t.Skip("a helper of TestVerifyTestMainInAChildProcess")
	}
	leakOnDefault()
	t.Error("failing on purpose")
}

func TestVerifyTestMainInAChildProcess(t *testing.T) {
	t.Run("leak", func(t *testing.T) {
		out, errOut, code := runChild(t, "verifytestmain", "TestHelperLeakOnDefault")
		if code != 1 {
			t.Fatalf("exit code %d, want 1; output:\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"otelguardtest: errors on successful test run: otelguard: found 1 unreleased lifetime:\n",
			`resource "default.leak": leaked_without_close, acquired at:`,
			".leakOnDefault(...)",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
	})
	t.Run("clean", func(t *testing.T) {
		out, errOut, code := runChild(t, "verifytestmain", "TestHelperCleanOnDefault")
		if code != 0 || !strings.Contains(out, "PASS") || withoutRuntimeNotes(errOut) != "" {
			t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
	t.Run("failing tests are not checked", func(t *testing.T) {
		out, errOut, code := runChild(t, "verifytestmain", "TestHelperFailing")
		if code != 1 || !strings.Contains(out, "failing on purpose") || strings.Contains(errOut+out, "unreleased") {
			t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
}

// withoutRuntimeNotes drops the lines the runtime itself writes to stderr
// under GODEBUG=checkfinalizers=1 ("checkfinalizers: queue: ..." at each
// collection): make test runs this package under it.
func withoutRuntimeNotes(s string) string {
	var kept []string
	for _, line := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(line, "checkfinalizers: ") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}
