package debug_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/debug"
)

// serve sends one request to h and returns the response.
func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandler(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 2)
	defer closeAll(t, conns...)
	h := debug.Handler(tr)

	const textType = "text/plain; charset=utf-8"
	const binType = "application/octet-stream"
	for _, tc := range []struct {
		name   string
		method string
		target string
		accept string
		status int
		ctype  string
		prefix string // of the body
	}{
		{"profile by default", "GET", "/debug/otelguard/live", "", 200, binType, "\x1f\x8b"},
		{"debug=0", "GET", "/x?debug=0", "", 200, binType, "\x1f\x8b"},
		{"debug=1", "GET", "/x?debug=1", "", 200, textType, "otelguard live lifetimes: 2 open"},
		{"debug=2", "GET", "/x?debug=2", "", 200, textType, "otelguard live lifetimes: 2 open"},
		{"debug=9", "GET", "/x?debug=9", "", 200, textType, "otelguard live lifetimes: 2 open"},
		{"debug wins over Accept", "GET", "/x?debug=0", "text/plain", 200, binType, "\x1f\x8b"},
		{"pprof's seconds ignored", "GET", "/x?seconds=30", "", 200, binType, "\x1f\x8b"},
		{"Accept text/plain", "GET", "/x", "text/html, text/plain;q=0.5", 200, textType, "otelguard live lifetimes: 2 open"},
		{"Accept text/plain q=0", "GET", "/x", "text/plain;q=0, */*", 200, binType, "\x1f\x8b"},
		{"Accept */*", "GET", "/x", "*/*", 200, binType, "\x1f\x8b"},
		{"bad debug", "GET", "/x?debug=yes", "", 400, textType, "otelguard: debug must be"},
		{"negative debug", "GET", "/x?debug=-1", "", 400, textType, "otelguard: debug must be"},
		{"POST", "POST", "/x", "", 405, textType, "otelguard: method not allowed"},
		{"HEAD", "HEAD", "/x?debug=1", "", 200, textType, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.accept != "" {
				hdr.Set("Accept", tc.accept)
			}
			res := serve(t, h, tc.method, tc.target, hdr)
			b := body(t, res)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d (%q)", res.StatusCode, tc.status, b)
			}
			if got := res.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.HasPrefix(b, tc.prefix) {
				t.Errorf("body %.80q, want it to start with %q", b, tc.prefix)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			switch {
			case tc.method == "HEAD":
				if b != "" || res.Header.Get("Content-Length") == "0" || res.Header.Get("Content-Length") == "" {
					t.Errorf("HEAD: body %q, Content-Length %q", b, res.Header.Get("Content-Length"))
				}
			case tc.status == 405:
				if got := res.Header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow %q", got)
				}
			case tc.ctype == binType && tc.status == 200:
				if _, err := profile.ParseData([]byte(b)); err != nil {
					t.Errorf("profile: %v", err)
				}
				if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
					t.Errorf("Content-Disposition %q", cd)
				}
			}
		})
	}
	// debug=2 is every lifetime with its stack.
	b := body(t, serve(t, h, "GET", "/x?debug=2", nil))
	if strings.Count(b, "resource \"db.conn\" [open, age ") != 2 || !strings.Contains(b, thisPkg+"openConns(...)\n") {
		t.Errorf("debug=2:\n%s", b)
	}
}

func TestRegister(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 1)
	defer closeAll(t, conns...)
	mux := http.NewServeMux()
	debug.Register(mux, tr)
	res := serve(t, mux, "GET", debug.Path+"?debug=1", nil)
	if b := body(t, res); res.StatusCode != 200 || !strings.Contains(b, "1 @ "+thisPkg+"openConns ") {
		t.Errorf("GET %s: %d\n%s", debug.Path, res.StatusCode, b)
	}
	if debug.Path != "/debug/otelguard/live" {
		t.Errorf("Path = %q", debug.Path)
	}

	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "otelguard: ") {
			t.Errorf("Register(nil, ...) panicked with %v", r)
		}
	}()
	debug.Register(nil, tr)
}

// TestNilTrackerIsDefault checks that a nil Tracker means Default, for the
// handler and the writers alike.
func TestNilTrackerIsDefault(t *testing.T) {
	r := otelguard.Acquire(context.Background(), "default.conn", 1, releaseInt)
	defer closeAll(t, r)

	res := serve(t, debug.Handler(nil), "GET", "/x?debug=1", nil)
	if b := body(t, res); !strings.Contains(b, `"default.conn" (resource) 1`) {
		t.Errorf("Handler(nil):\n%s", b)
	}
	var buf bytes.Buffer
	if err := debug.WriteText(&buf, nil); err != nil || !strings.Contains(buf.String(), `"default.conn"`) {
		t.Errorf("WriteText(nil): %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := debug.WriteLifetimes(&buf, nil); err != nil || !strings.Contains(buf.String(), `"default.conn"`) {
		t.Errorf("WriteLifetimes(nil): %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := debug.WriteProfile(&buf, nil); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range p.Sample {
		found = found || s.Label[debug.LabelName][0] == "default.conn"
	}
	if !found {
		t.Errorf("WriteProfile(nil): no default.conn sample")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteErrors(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 1)
	defer closeAll(t, conns...)
	for name, write := range map[string]func(io.Writer, *otelguard.Tracker) error{
		"WriteText":      debug.WriteText,
		"WriteLifetimes": debug.WriteLifetimes,
		"WriteProfile":   debug.WriteProfile,
	} {
		if err := write(failWriter{}, tr); err == nil {
			t.Errorf("%s to a failing writer: nil error", name)
		}
	}
}

// TestHandlerConcurrent serves views while lifetimes come and go.
func TestHandlerConcurrent(t *testing.T) {
	tr := newTracker(t)
	h := debug.Handler(tr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rs := openConns(tr, 3)
				g := guardInline(tr)
				_ = g.Run()
				closeAll(t, rs...)
			}
		})
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		target := [...]string{"/x", "/x?debug=1", "/x?debug=2"}[i%3]
		res := serve(t, h, "GET", target, nil)
		b := body(t, res)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", target, res.StatusCode, b)
		}
		if i%3 == 0 {
			if _, err := profile.ParseData([]byte(b)); err != nil {
				t.Fatalf("profile: %v", err)
			}
		}
	}
	close(stop)
	wg.Wait()
}

// TestGoToolPprof drives the real `go tool pprof -top` over the handler,
// served on the loopback interface, and finds the acquiring function.
func TestGoToolPprof(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH; cannot run go tool pprof")
	}
	if testing.Short() {
		t.Skip("runs go tool pprof; skipped with -short")
	}
	tr := newTracker(t)
	conns := openConns(tr, 3)
	defer closeAll(t, conns...)
	other := openNamed(tr, "cache.entry")
	defer closeAll(t, other)

	mux := http.NewServeMux()
	debug.Register(mux, tr)
	srv := httptest.NewServer(mux) // 127.0.0.1
	defer srv.Close()

	// Keep the Go build cache: go tool pprof may be built on first use.
	gocache, err := exec.Command(goBin, "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	run := func(args ...string) string {
		t.Helper()
		// go tool pprof is built on first use: minutes on a cold build
		// cache. Bound it by the test binary's deadline, not less.
		ctx, cancel := context.WithCancel(t.Context())
		if d, ok := t.Deadline(); ok {
			ctx, cancel = context.WithDeadline(t.Context(), d.Add(-15*time.Second))
		}
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, append([]string{"tool", "pprof"}, args...)...)
		cmd.Dir = t.TempDir() // outside any module
		cmd.Env = append(os.Environ(),
			"PPROF_TMPDIR="+t.TempDir(),
			"HOME="+t.TempDir(),
			"GOCACHE="+strings.TrimSpace(string(gocache)),
			"GOTOOLCHAIN=local",
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go tool pprof %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		t.Logf("go tool pprof %s:\n%s", strings.Join(args, " "), stdout.String())
		return stdout.String()
	}

	url := srv.URL + debug.Path
	out := run("-top", url)
	if !strings.Contains(out, thisPkg+"openConns") {
		t.Errorf("go tool pprof -top: no openConns in\n%s", out)
	}
	if !strings.Contains(out, "Type: lifetimes") {
		t.Errorf("go tool pprof -top: the default sample type is not lifetimes:\n%s", out)
	}
	// Labels select: only the cache.entry lifetime remains.
	out = run("-top", "-tagfocus=otelguard.name=cache.entry", url)
	if !strings.Contains(out, thisPkg+"openNamed") || strings.Contains(out, thisPkg+"openConns") {
		t.Errorf("go tool pprof -tagfocus: want openNamed alone in\n%s", out)
	}
}
