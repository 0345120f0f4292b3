package golangci_test

import (
	"path/filepath"
	"testing"

	"github.com/golangci/plugin-module-register/register"
	"github.com/otelguard/otelguard-go/otelguardcheck"
	_ "github.com/otelguard/otelguard-go/otelguardcheck/golangci"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestPlugin looks the plugin up as golangci-lint does, by its name in the
// registry that importing the package fills.
func TestPlugin(t *testing.T) {
	newPlugin, err := register.GetPlugin("otelguardcheck")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlugin(nil)
	if err != nil {
		t.Fatalf("no settings: %v", err)
	}
	as, err := p.BuildAnalyzers()
	if err != nil || len(as) != 1 || as[0] != otelguardcheck.Analyzer {
		t.Fatalf("BuildAnalyzers = %v, %v; want the Analyzer", as, err)
	}
	if m := p.GetLoadMode(); m != register.LoadModeTypesInfo {
		t.Fatalf("GetLoadMode = %q, want %q", m, register.LoadModeTypesInfo)
	}
	if _, err := newPlugin(map[string]any{"strict": true}); err == nil {
		t.Fatal("an unknown setting was accepted")
	}
}

// TestPluginAnalyzerRuns runs what the plugin gives golangci-lint over the
// README's example (testdata/src/readme, whose // want comments are the
// reports due): the plugin's analyzer reports what otelguardcheck does.
func TestPluginAnalyzerRuns(t *testing.T) {
	newPlugin, err := register.GetPlugin("otelguardcheck")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlugin(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := p.BuildAnalyzers()
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs(filepath.Join("..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		results := analysistest.Run(t, testdata, a, "readme")
		reports := 0
		for _, r := range results {
			reports += len(r.Diagnostics)
		}
		if reports == 0 {
			t.Errorf("%s reported nothing on testdata/src/readme", a.Name)
		}
	}
}
