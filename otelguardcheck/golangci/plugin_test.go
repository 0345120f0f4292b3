package golangci_test

import (
	"testing"

	"github.com/golangci/plugin-module-register/register"
	"github.com/otelguard/otelguard-go/otelguardcheck"
	_ "github.com/otelguard/otelguard-go/otelguardcheck/golangci"
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
