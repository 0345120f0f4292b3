package otelguardtest_test

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// openWithContext acquires with the package-level function, naming no
// Tracker: the context decides.
//
//go:noinline
func openWithContext(ctx context.Context) *otelguard.Resource[int] {
	return otelguard.Acquire(ctx, "db.conn", 1, release)
}

// Parallel tests, each with its Tracker in rec.Context(): code that names
// no Tracker reaches each test's own, and each test sees only its own.
func TestRecorderContextCarriesItsTracker(t *testing.T) {
	for i := range 4 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			rec := otelguardtest.NewTracker(t)
			if got := otelguard.TrackerFrom(rec.Context()); got != rec.Tracker {
				t.Fatalf("TrackerFrom(rec.Context()) = %p, want the test's %p", got, rec.Tracker)
			}
			for range i + 1 {
				_ = openWithContext(rec.Context()).Close(context.Background())
			}
			if n := len(rec.Lifetimes()); n != i+1 {
				t.Fatalf("%d lifetimes recorded, want %d", n, i+1)
			}
		})
	}
}

// TestHelperReportLine is run by TestFailureIsReportedAtTheTestsLine.
func TestHelperReportLine(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "reportline":
		rec := otelguardtest.NewTracker(t) // the failure is reported here
		openAndForget(rec.Tracker)
	case "default":
		_ = otelguardtest.NewTracker(t)
		openWithContext(context.Background()) // no Tracker in ctx: Default(), left open
	case "held":
		rec := otelguardtest.NewTracker(t, otelguard.WithDefaultHoldThreshold(time.Millisecond))
		r := openWithContext(rec.Context())
		time.Sleep(50 * time.Millisecond)
		_ = r.Close(context.Background())
	default:
		t.Skip("a helper of TestFailureIsReportedAtTheTestsLine")
	}
}

// A test that fails on a leak is reported at its own line (the NewTracker
// call), as goleak's VerifyNone is, not inside the helper. (It was
// reported at find.go before: the helpers marked a function of their own
// as the helper, not themselves.)
func TestFailureIsReportedAtTheTestsLine(t *testing.T) {
	src, err := os.ReadFile("context_test.go")
	if err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasSuffix(l, "// the failure is reported here") {
			line = i + 1
			break
		}
	}
	out, errOut, code := runChild(t, "reportline", "TestHelperReportLine")
	if code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s%s", code, out, errOut)
	}
	want := regexp.MustCompile(`(?m)^\s+context_test\.go:` + strconv.Itoa(line) + `: otelguard: found 1 unreleased lifetime:`)
	if !want.MatchString(out) {
		t.Fatalf("the failure is not reported at context_test.go:%d:\n%s", line, out)
	}
}

// Lifetimes the test's code put on otelguard.Default() (it missed the
// test's context) and left open or leaked fail the test, with where they
// were acquired.
func TestLifetimesOnDefaultFailTheTest(t *testing.T) {
	out, errOut, code := runChild(t, "default", "TestHelperReportLine")
	if code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"1 lifetimes acquired by this test went to otelguard.Default(), not the test's Tracker",
		`resource "db.conn": leaked_without_close, acquired at:`,
		".openWithContext(",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// NewTracker sends the Tracker's warnings to the test's output: a lifetime
// held past its threshold is named while the test runs.
func TestWarningsGoToTheTestOutput(t *testing.T) {
	out, errOut, code := runChild(t, "held", "TestHelperReportLine", "-test.v")
	if code != 0 {
		t.Fatalf("exit code %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`msg="otelguard: lifetime held too long"`, "otelguard.name=db.conn", `code.stacktrace.0="github.com/otelguard/otelguard-go/otelguard/otelguardtest_test.openWithContext `} {
		if !strings.Contains(out, want) {
			t.Errorf("test output lacks %q:\n%s", want, out)
		}
	}
}
