package guardhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// The snippets of the package documentation and of the repository's
// README, as code that runs (internal/snippets checks that they are here,
// line for line).

// docGet is the package documentation's client snippet.
func docGet(url string) error {
	client := &http.Client{Transport: guardhttp.NewTransport(nil)}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close() // span http.response.body: cleaned, otelguard.http.body.drained=…
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// do is the README's client snippet.
func do(ctx context.Context, req *http.Request) error {
	client := &http.Client{Transport: guardhttp.NewTransport(nil)} // nil: http.DefaultTransport
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

type cursor struct{ rows []string }

func openCursor() *cursor { return &cursor{rows: []string{"a", "b"}} }

func closeCursor(context.Context, *cursor) error { return nil }

var errRender = errors.New("render failed")

func render(w io.Writer, c *cursor) error {
	if len(c.rows) > 1 {
		return errRender
	}
	_, err := io.WriteString(w, strings.Join(c.rows, ","))
	return err
}

// readmeHandler is the README's server snippet.
func readmeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /reports/{id}", func(w http.ResponseWriter, r *http.Request) {
		// r.Context() carries the Tracker and the request: no WithTracker needed.
		//otelguard:handoff the README's mistake on purpose: NewHandler reports it
		cursor := otelguard.Acquire(r.Context(), "report.cursor", openCursor(), closeCursor)
		if err := render(w, cursor.Value()); err != nil {
			return // cursor.Close forgotten on the error path: reported as this handler returns
		}
		_ = cursor.Close(r.Context())
	})
	handler := guardhttp.NewHandler(mux)
	return handler
}

func TestSnippets(t *testing.T) {
	rec := otelguardtest.NewTracker(t)
	srv := httptest.NewServer(guardhttp.NewHandler(readmeHandler(), guardhttp.WithTracker(rec.Tracker)))
	defer srv.Close()
	if err := docGet(srv.URL + "/reports/7"); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/reports/8", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := do(rec.Context(), req); err != nil {
		t.Fatal(err)
	}
	var outlived int
	for _, l := range rec.Tracker.Live() {
		if l.Name == "report.cursor" {
			outlived++
		}
	}
	if outlived != 2 {
		t.Fatalf("%d report cursors open, want the 2 the handler forgot", outlived)
	}
	if err := rec.Tracker.CloseAll(context.Background()); err != nil {
		t.Fatal(err)
	}
}
