package stacklog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

const sample = "main.(*server).handleLeak(...)\n\t/src/app/main.go:42 +0x1d\nnet/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2294\n...additional frames elided...\n"

func TestFrames(t *testing.T) {
	got := Frames(sample)
	want := []string{
		"main.(*server).handleLeak /src/app/main.go:42",
		"net/http.HandlerFunc.ServeHTTP /usr/local/go/src/net/http/server.go:2294",
		"...additional frames elided...",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Frames = %q, want %q", got, want)
	}
	if got := Frames(""); len(got) != 0 {
		t.Fatalf("Frames(\"\") = %q", got)
	}
}

func TestAttrReadsInBothHandlers(t *testing.T) {
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Warn("leak", Attr("code.stacktrace", sample))
	slog.New(slog.NewJSONHandler(&js, nil)).Warn("leak", Attr("code.stacktrace", sample))
	if !strings.Contains(text.String(), `code.stacktrace.0="main.(*server).handleLeak /src/app/main.go:42"`) {
		t.Errorf("text: %s", text.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	st, _ := rec["code.stacktrace"].(map[string]any)
	if st["1"] != "net/http.HandlerFunc.ServeHTTP /usr/local/go/src/net/http/server.go:2294" {
		t.Errorf("json: %s", js.String())
	}
	var empty bytes.Buffer
	slog.New(slog.NewTextHandler(&empty, nil)).Warn("leak", Attr("code.stacktrace", ""))
	if strings.Contains(empty.String(), "code.stacktrace") {
		t.Errorf("an empty stack was logged: %s", empty.String())
	}
}
