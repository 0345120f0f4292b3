package otelguardtest

import (
	"fmt"
	"io"
	"os"

	"github.com/otelguard/otelguard-go/otelguard"
)

// Variables stubbed by the package's own tests.
var (
	osExit             = os.Exit
	osStderr io.Writer = os.Stderr
)

// TestingM is the part of *testing.M that VerifyTestMain uses.
type TestingM interface {
	Run() int
}

// VerifyTestMain runs the tests with m.Run and, if they passed, looks with
// Find for lifetimes of otelguard.Default() that were not released. On
// finding any it prints the report to standard error and exits with
// status 1; otherwise it exits with the tests' status. It never returns.
//
//	func TestMain(m *testing.M) {
//		otelguardtest.VerifyTestMain(m)
//	}
//
// It sees only the lifetimes of the Default tracker (those acquired by the
// package-level functions without WithTracker); a Tracker of the tests'
// own is checked with VerifyNone or NewTracker.
func VerifyTestMain(m TestingM, options ...Option) {
	verifyTestMain(m, otelguard.Default(), options)
}

func verifyTestMain(m TestingM, tr *otelguard.Tracker, options []Option) {
	code := m.Run()
	if code == 0 {
		if err := Find(tr, options...); err != nil {
			fmt.Fprintf(osStderr, "otelguardtest: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	osExit(code)
}
