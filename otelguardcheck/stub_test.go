package otelguardcheck_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go/types"

	"golang.org/x/tools/go/packages"
)

// TestStubMatchesOtelguard keeps testdata's stand-in of package otelguard
// true to the real one, which lives in the parent module: every function
// and method the stand-in declares exists there with the same signature;
// every function there that returns a handle (an acquire the analyzer must
// know) is in the stand-in; and Guard, Resource and Scope have the same
// methods in both, so that a new method that ends a lifetime cannot go
// unnoticed by the analyzer. Outside this repository (the module fetched
// on its own) there is no real package beside it, and the test is skipped.
func TestStubMatchesOtelguard(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if gomod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil ||
		!strings.HasPrefix(string(gomod), "module github.com/otelguard/otelguard-go\n") {
		t.Skip("not inside the otelguard-go repository")
	}
	real := load(t, root, []string{"GOWORK=off"}, "./otelguard")
	testdata, _ := filepath.Abs("testdata")
	stub := load(t, testdata, []string{"GOPATH=" + testdata, "GO111MODULE=off", "GOWORK=off"}, "github.com/otelguard/otelguard-go/otelguard")

	realFuncs, stubFuncs := exportedFuncs(real), exportedFuncs(stub)
	for name, sig := range stubFuncs {
		if got, ok := realFuncs[name]; !ok {
			t.Errorf("stand-in declares %s, which package otelguard does not have", name)
		} else if signature(got) != signature(sig) {
			t.Errorf("%s:\n\treal       %s\n\tstand-in   %s", name, signature(got), signature(sig))
		}
	}
	for name, sig := range realFuncs {
		if _, ok := stubFuncs[name]; ok {
			continue
		}
		if returnsHandle(sig) {
			t.Errorf("package otelguard has %s %s, an acquire the stand-in lacks", name, signature(sig))
		}
		if typ, _, ok := strings.Cut(name, "."); ok && (typ == "Guard" || typ == "Resource" || typ == "Scope") {
			t.Errorf("package otelguard has %s %s: add it to the stand-in, and to kind.ends if it ends a lifetime", name, signature(sig))
		}
	}
}

func load(t *testing.T, dir string, env []string, pattern string) *types.Package {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: dir, Env: append(os.Environ(), env...)}
	pkgs, err := packages.Load(cfg, pattern)
	if err != nil {
		t.Fatalf("loading %s in %s: %v", pattern, dir, err)
	}
	if len(pkgs) != 1 || len(pkgs[0].Errors) > 0 || pkgs[0].Types == nil {
		t.Fatalf("loading %s in %s: %v", pattern, dir, pkgs)
	}
	return pkgs[0].Types
}

// exportedFuncs maps "F" and "T.M" to the signatures of pkg's exported
// functions and of the exported methods of its exported types.
func exportedFuncs(pkg *types.Package) map[string]*types.Signature {
	out := make(map[string]*types.Signature)
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		switch obj := scope.Lookup(name).(type) {
		case *types.Func:
			if obj.Exported() {
				out[name] = obj.Signature()
			}
		case *types.TypeName:
			named, ok := obj.Type().(*types.Named)
			if !ok || !obj.Exported() {
				continue
			}
			for m := range named.Methods() {
				if m.Exported() {
					out[name+"."+m.Name()] = m.Signature()
				}
			}
		}
	}
	return out
}

// signature spells sig with package names, comparable across the two
// packages, which have the same path but are loaded apart.
func signature(sig *types.Signature) string {
	return types.TypeString(sig, func(p *types.Package) string { return p.Name() })
}

// returnsHandle reports whether sig returns a *Guard, *Resource or *Scope.
func returnsHandle(sig *types.Signature) bool {
	for v := range sig.Results().Variables() {
		if ptr, ok := v.Type().(*types.Pointer); ok {
			if named, ok := ptr.Elem().(*types.Named); ok {
				if n := named.Obj().Name(); n == "Guard" || n == "Resource" || n == "Scope" {
					return true
				}
			}
		}
	}
	return false
}
