// Command otelguardcheck reports otelguard lifetimes that a function can
// leave open: a Guard neither run nor disarmed, a Resource or Scope not
// closed, on some path to a return. It runs standalone or under go vet.
// Until the module is published, install it from a clone of the
// repository:
//
//	cd otelguard-go/otelguardcheck && go install ./cmd/otelguardcheck
//	go vet -vettool=$(which otelguardcheck) ./...
//	otelguardcheck ./...
//
// The rules are those of package otelguardcheck.
package main

import (
	"github.com/otelguard/otelguard-go/otelguardcheck"
	"golang.org/x/tools/go/analysis/singlechecker"
)

func main() { singlechecker.Main(otelguardcheck.Analyzer) }
