package main

import (
	"bytes"
	"strings"
	"testing"
)

// The leak of an unsampled request reaches the logs: as a Warn record
// named for the outcome, in the request's trace, with the lifetime's name
// and the handler first in its stack.
func TestTheLeakReachesTheLogs(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"WARN otelguard: lifetime leaked_without_close",
		"(the request's: true), sampled false",
		"otelguard.name: db.rows",
		"otelguard.outcome: leaked_without_close",
		"handleReport main.go", // main. when run, the package path when tested
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if n := strings.Count(out.String(), "WARN "); n != 1 {
		t.Errorf("%d records, want 1:\n%s", n, out.String())
	}
}
