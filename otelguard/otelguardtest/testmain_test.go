package otelguardtest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/otelguard"
)

type fakeM int

func (m fakeM) Run() int { return int(m) }

// stubExit replaces osExit and osStderr for the test.
func stubExit(t *testing.T) (code *int, stderr *bytes.Buffer) {
	code = new(int)
	*code = -1
	stderr = &bytes.Buffer{}
	oldExit, oldStderr := osExit, osStderr
	osExit = func(c int) { *code = c }
	osStderr = stderr
	t.Cleanup(func() { osExit, osStderr = oldExit, oldStderr })
	return code, stderr
}

//go:noinline
func forget(tr *otelguard.Tracker) {
	//otelguard:handoff leaked on purpose: the test wants the GC's leaked_without_close report
	otelguard.NewGuard(context.Background(), "forgotten", func(context.Context) error { return nil }, otelguard.WithTracker(tr))
}

func TestVerifyTestMainExitsWithTheTestsCode(t *testing.T) {
	code, stderr := stubExit(t)
	tr := otelguard.New()
	verifyTestMain(fakeM(0), tr, nil)
	if *code != 0 || stderr.Len() != 0 {
		t.Fatalf("passing, clean: exit %d, stderr %q", *code, stderr)
	}

	forget(tr)
	verifyTestMain(fakeM(3), tr, nil)
	if *code != 3 || stderr.Len() != 0 {
		t.Fatalf("failing tests: exit %d, stderr %q (a failed run is not checked)", *code, stderr)
	}
}

func TestVerifyTestMainReportsLeaks(t *testing.T) {
	code, stderr := stubExit(t)
	tr := otelguard.New()
	forget(tr)
	verifyTestMain(fakeM(0), tr, nil)
	if *code != 1 {
		t.Fatalf("exit %d, want 1", *code)
	}
	msg := stderr.String()
	if !strings.HasPrefix(msg, "otelguardtest: errors on successful test run: otelguard: found 1 unreleased lifetime:\n") ||
		!strings.Contains(msg, `guard "forgotten": leaked_without_close`) || !strings.Contains(msg, ".forget(...)") {
		t.Fatalf("stderr:\n%s", msg)
	}

	verifyTestMain(fakeM(0), tr, []Option{IgnoreName("forgotten")})
	if *code != 0 {
		t.Fatalf("with the leak ignored: exit %d", *code)
	}
}

func TestVerifyTestMainUsesDefault(t *testing.T) {
	code, stderr := stubExit(t)
	VerifyTestMain(fakeM(0), IgnoreCurrent())
	if *code != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", *code, stderr)
	}
}

func TestBackoff(t *testing.T) {
	if backoff(0) <= 0 || backoff(10) <= backoff(9) || backoff(19) != maxSleep || backoff(64) != maxSleep || backoff(1000) != maxSleep {
		t.Fatalf("backoff: %v %v %v %v", backoff(0), backoff(10), backoff(19), backoff(64))
	}
	total := 0 * maxSleep
	for i := range DefaultMaxRetries {
		total += backoff(i)
	}
	if total > maxSleep*DefaultMaxRetries/2 {
		t.Errorf("the default retries sleep %v in all", total)
	}
}
