package debug_test

import "testing"

import ogdebug "github.com/otelguard/otelguard-go/otelguard/debug"

import "runtime/debug"

// A file that also imports runtime/debug renames one of the two, as the
// package documentation shows.
func TestRenamedBesideRuntimeDebug(t *testing.T) {
	if ogdebug.Path != "/debug/otelguard/live" || debug.SetGCPercent(-1) == -2 {
		t.Fatal("the renamed package is not this one")
	}
	debug.SetGCPercent(100)
}
