// Package wraptest holds RoundTrippers that wrap another, in a package of
// their own, for the tests of guardhttp.WithCallerSkipPackages: a package
// the tests can name without naming their own.
package wraptest

import "net/http"

// Path is this package's import path.
const Path = "github.com/otelguard/otelguard-go/integrations/guardhttp/internal/wraptest"

// Wrap returns rt under n RoundTrippers that pass each request on.
func Wrap(rt http.RoundTripper, n int) http.RoundTripper {
	for range n {
		rt = passOn{rt}
	}
	return rt
}

type passOn struct{ next http.RoundTripper }

func (p passOn) RoundTrip(r *http.Request) (*http.Response, error) {
	return p.next.RoundTrip(r)
}
