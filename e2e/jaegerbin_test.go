package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestJaegerBin: JAEGER_BIN names the Jaeger to start, with no build, by an
// absolute path or a name on $PATH; a relative path (relative to what: the
// tests run in e2e/) or a missing file is an error, never a silent build.
// It needs no Jaeger and runs in -short mode too.
func TestJaegerBin(t *testing.T) {
	sh, err := exec.LookPath("sh") // any executable stands for the user's Jaeger
	if err != nil {
		t.Skip("no sh on PATH to stand for a Jaeger binary")
	}
	for _, c := range []struct {
		env, want, err string
	}{
		{env: sh, want: sh},
		{env: "sh", want: sh},
		{env: "bin/jaeger", err: "give an absolute path"},
		{env: "/nonexistent/jaeger", err: "/nonexistent/jaeger"},
	} {
		t.Setenv("JAEGER_BIN", c.env)
		got, err := buildJaeger()
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("JAEGER_BIN=%s: buildJaeger() = %q, %v; want %q", c.env, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("JAEGER_BIN=%s: buildJaeger() = %q, %v; want an error saying %q", c.env, got, err, c.err)
		}
	}
}
