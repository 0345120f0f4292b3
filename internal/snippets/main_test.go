package snippets

import (
	"testing"

	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// VerifyTestMain's snippet, in use: this package's tests acquire nothing
// on otelguard.Default(), and the check says so.
func TestMain(m *testing.M) {
	otelguardtest.VerifyTestMain(m)
}
