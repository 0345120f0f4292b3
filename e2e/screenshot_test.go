package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestScreenshot takes the README's picture of a leak in Jaeger: it runs
// examples/service -selftest against Jaeger, finds a leaked lifetime by tag
// search, and has headless Chromium screenshot the Jaeger UI's page of its
// trace, with the leaked span expanded (uiFind=<span ID>), to the PNG named
// by OTELGUARD_SCREENSHOT. scripts/screenshot.sh runs it; otherwise it
// skips.
//
// A Jaeger built from its Go module has no UI, only a placeholder page: set
// JAEGER_UI_ASSETS to a built jaeger-ui directory for the real one. Without
// it the screenshot shows what Jaeger's query API, which the UI reads,
// returns for that trace, and the test says so.
func TestScreenshot(t *testing.T) {
	out := os.Getenv("OTELGUARD_SCREENSHOT")
	if out == "" {
		t.Skip("set OTELGUARD_SCREENSHOT=file.png to take the README's screenshot (scripts/screenshot.sh does)")
	}
	bin := example(t, "service")
	chromium := findChromium(t)

	const svc = "otelguard-service"
	runExample(t, bin, otlpEnv(shared, svc), "-selftest", "1")
	leak := shared.searchAtLeast(t, svc, map[string]string{"otelguard.outcome": "leaked_without_close"}, 1)[0]

	page := fmt.Sprintf("http://%s/trace/%s?uiFind=%s", shared.query, leak.trace.TraceID, leak.span.SpanID)
	size := "1600,1000"
	if !hasUI(t, shared) {
		t.Logf("WARNING: this Jaeger has no UI (built from its Go module: set JAEGER_UI_ASSETS to a jaeger-ui build); "+
			"the screenshot shows the query API's answer for the leak's trace instead of %s", page)
		page = fmt.Sprintf("http://%s/api/traces/%s?prettyPrint=true", shared.query, leak.trace.TraceID)
		size = "1600,1500" // down to the span's otelguard.outcome and trigger
	}

	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+profile,
		"--window-size="+size, "--virtual-time-budget=15000",
		"--screenshot="+out, page)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", chromium, err, b)
	}
	png, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("%s is not a PNG", out)
	}
	t.Logf("%s: %d bytes, of %s", out, len(png), page)
}

// hasUI tells the Jaeger UI from the placeholder page that a Jaeger built
// without it serves.
func hasUI(t *testing.T, j *jaeger) bool {
	resp, err := http.Get("http://" + j.query + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return !bytes.Contains(b, []byte("not the Jaeger UI you are looking for"))
}

func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no chromium on PATH (Debian: apt-get install -y chromium); PATH=%s", filepath.SplitList(os.Getenv("PATH")))
	return ""
}
