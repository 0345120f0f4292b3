package otelguardcheck_test

import (
	"testing"

	"github.com/otelguard/otelguard-go/otelguardcheck"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestAnalyzer runs the analyzer over testdata/src, one package per group
// of cases and one file per case; each file's // want comments are the
// reports it must give, and every other report is an error.
func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), otelguardcheck.Analyzer, "rules", "handoff", "flow", "mainpkg", "falsepositives", "readme")
}
