// Package golangci makes otelguardcheck a golangci-lint module plugin.
// Importing it registers the linter "otelguardcheck" with
// github.com/golangci/plugin-module-register, the standard registry of
// golangci-lint's module plugins.
//
// Build a golangci-lint that includes it with golangci-lint custom
// (https://golangci-lint.run/docs/plugins/module-plugins) and a
// .custom-gcl.yml: ../.custom-gcl.yml is one for a clone of the repository
// (run golangci-lint custom in otelguardcheck/), naming the plugin by its
// directory since the module is not published:
//
//	version: v2.15.0 # the golangci-lint release to build, with Go 1.26 or later
//	name: golangci-lint-otelguard
//	destination: ./bin
//	plugins:
//	  - module: github.com/otelguard/otelguard-go/otelguardcheck
//	    import: github.com/otelguard/otelguard-go/otelguardcheck/golangci
//	    path: .   # once published: version: latest
//
// and enable it in .golangci.yml:
//
//	version: "2"
//	linters:
//	  enable: [otelguardcheck]
//	  settings:
//	    custom:
//	      otelguardcheck:
//	        type: module
//	        description: otelguard lifetimes left open
//
// It takes no settings; giving any is an error, so that a misspelt one is
// not silently ignored.
package golangci

import (
	"github.com/golangci/plugin-module-register/register"
	"github.com/otelguard/otelguard-go/otelguardcheck"
	"golang.org/x/tools/go/analysis"
)

func init() {
	register.Plugin("otelguardcheck", New)
}

// Settings is the linter's settings block in .golangci.yml: empty today.
type Settings struct{}

// New returns the plugin for the given settings, as golangci-lint calls it.
// It fails on any setting, since there are none.
func New(settings any) (register.LinterPlugin, error) {
	if _, err := register.DecodeSettings[Settings](settings); err != nil {
		return nil, err
	}
	return plugin{}, nil
}

type plugin struct{}

// BuildAnalyzers returns otelguardcheck.Analyzer.
func (plugin) BuildAnalyzers() ([]*analysis.Analyzer, error) {
	return []*analysis.Analyzer{otelguardcheck.Analyzer}, nil
}

// GetLoadMode asks for type information: the analyzer knows the otelguard
// API by its types.
func (plugin) GetLoadMode() string { return register.LoadModeTypesInfo }
