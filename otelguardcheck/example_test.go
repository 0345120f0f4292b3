package otelguardcheck_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/otelguard/otelguard-go/otelguardcheck"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// The Analyzer run as a driver runs it, here on testdata's readme package:
// the README's transfer function with two mistakes. The error path of
// BeginTx returns before conn is closed, and the rollback guard is
// disarmed by a defer, so it can never roll back.
func Example() {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		log.Fatal(err)
	}
	pkgs, err := packages.Load(&packages.Config{
		// checker.Analyze runs ctrlflow on the dependencies too (its facts say
		// which functions never return), so they are loaded with syntax.
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedTypesSizes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedDeps,
		Dir: filepath.Join(testdata, "src", "readme"),
		Env: append(os.Environ(), "GOPATH="+testdata, "GO111MODULE=off", "GOWORK=off"),
	}, ".")
	if err != nil {
		log.Fatal(err)
	}
	res, err := checker.Analyze([]*analysis.Analyzer{otelguardcheck.Analyzer}, pkgs, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, act := range res.Roots {
		diags := slices.SortedFunc(slices.Values(act.Diagnostics), func(a, b analysis.Diagnostic) int { return int(a.Pos - b.Pos) })
		for _, d := range diags {
			posn := act.Package.Fset.Position(d.Pos)
			fmt.Printf("%s:%d: %s\n", filepath.Base(posn.Filename), posn.Line, d.Message)
		}
	}
	// Output:
	// transfer.go:19: conn (*otelguard.Resource from Track) is not closed on every path: the return on line 22 is reached without Close, CloseAsync or Detach
	// transfer.go:27: defer rollback.Disarm() disarms the guard on every path, so its cleanup can never run: call Disarm where the work has succeeded
}
