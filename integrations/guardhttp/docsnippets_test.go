package guardhttp_test

import (
	"net/http"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
)

// The set-up docs/guardhttp.md shows, compiled here line for line.
func docSetup() (*http.Client, *http.ServeMux, *http.Server) {
	client := &http.Client{Transport: guardhttp.NewTransport(nil)} // nil: http.DefaultTransport
	mux := http.NewServeMux()
	srv := &http.Server{Handler: guardhttp.NewHandler(mux)}
	return client, mux, srv
}

var _ = docSetup
