package guardhttp_test

// The detection matrix (issue 23): for each way a caller can hold a
// response body, a body dropped without Close is found — leaked_without_close,
// with the acquire stack naming the line of this file that called the
// client, within the documented bound (the next collection after the drop:
// at most maxCollections forced collections here) — and a body closed as it
// should be is never reported. A leak is found only once the wrapper the
// caller held was collected, so each "dropped" cell also proves the handle
// collectable. Responses without a body (HEAD, 204, 304) get no lifetime:
// nothing is ever reported for them, nothing is left open. The table in
// doc.go and docs/guardhttp.md says the same.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/exporters/memory"
	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
)

// maxCollections is the bound a matrix cell holds leak detection to: the
// leak is found at the first forced collection after the drop (the
// runtime's cleanup goroutine and the Tracker's report follow it; awaitLeak
// waits for them, bounded).
const maxCollections = 1

// largeBody is larger than anything net/http buffers (its chunked writer
// flushes at 2 KiB, bufio at 4 KiB) and than the 2 KiB a leak's release
// drains: the release closes the connection.
var largeBody = strings.Repeat("0123456789abcdef", 4<<10) // 64 KiB

// matrixMux serves each kind of response the matrix holds.
func matrixMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/cl-small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "13")
		_, _ = io.WriteString(w, "hello, world\n")
	})
	mux.HandleFunc("/cl-large", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(largeBody)))
		_, _ = io.WriteString(w, largeBody)
	})
	mux.HandleFunc("/chunked-small", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello, ")
		w.(http.Flusher).Flush() // headers out before the end: chunked
		_, _ = io.WriteString(w, "world\n")
	})
	mux.HandleFunc("/chunked-large", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, largeBody) // over 2 KiB with no length: chunked
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = io.WriteString(zw, largeBody)
		_ = zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(buf.Bytes())
	})
	mux.HandleFunc("/204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/304", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		if n := r.PathValue("n"); n != "0" {
			http.Redirect(w, r, fmt.Sprintf("/redirect/%c", n[0]-1), http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, largeBody)
	})
	return mux
}

// A matrixCase is one way of holding a body: the server it comes from, the
// request, and the client.
type matrixCase struct {
	name    string
	method  string
	path    string
	timeout time.Duration // Client.Timeout
	http2   bool
	noBody  bool // a response with no body: no lifetime
	check   func(t *testing.T, resp *http.Response)
}

var matrixCases = []matrixCase{
	{name: "content-length small", path: "/cl-small"},
	{name: "content-length large", path: "/cl-large"},
	{name: "chunked small", path: "/chunked-small", check: wantChunked},
	{name: "chunked large", path: "/chunked-large", check: wantChunked},
	{name: "gzip decoded", path: "/gzip", check: func(t *testing.T, resp *http.Response) {
		if !resp.Uncompressed {
			t.Error("the Transport did not decompress the body")
		}
	}},
	{name: "HTTP/2 small", path: "/cl-small", http2: true, check: wantHTTP2},
	{name: "HTTP/2 large", path: "/chunked-large", http2: true, check: wantHTTP2},
	{name: "redirect chain", path: "/redirect/3"},
	{name: "client Timeout", path: "/chunked-large", timeout: time.Minute},
	{name: "HEAD", method: http.MethodHead, path: "/cl-large", noBody: true},
	{name: "204", path: "/204", noBody: true},
	{name: "304", path: "/304", noBody: true},
}

func wantChunked(t *testing.T, resp *http.Response) {
	t.Helper()
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("TransferEncoding %v, want chunked", resp.TransferEncoding)
	}
}

func wantHTTP2(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
}

// matrixServers are the loopback servers of the matrix: HTTP/1.1, and
// HTTP/2 over TLS.
type matrixServers struct{ h1, h2 *httptest.Server }

func newMatrixServers(t *testing.T) matrixServers {
	t.Helper()
	h2 := httptest.NewUnstartedServer(matrixMux())
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	return matrixServers{h1: newServer(t, matrixMux()), h2: h2}
}

// client returns a client of c's kind through NewTransport, on a base
// transport of the test's own.
func (s matrixServers) client(t *testing.T, c matrixCase, tr *otelguard.Tracker) (*http.Client, string) {
	t.Helper()
	base, url := newBase(t), s.h1.URL
	if c.http2 {
		base = s.h2.Client().Transport.(*http.Transport).Clone()
		t.Cleanup(base.CloseIdleConnections)
		url = s.h2.URL
	}
	return &http.Client{Transport: guardhttp.NewTransport(base, guardhttp.WithTracker(tr)), Timeout: c.timeout}, url + c.path
}

// fetch makes c's request and returns the response with the line of this
// file that called the client: the line the acquire stack must name.
func fetch(t *testing.T, client *http.Client, c matrixCase, url string) (*http.Response, string) {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, file, line, _ := runtime.Caller(0)
	resp, err := client.Do(req) // line+1: the line the stack must name
	line++
	if err != nil {
		t.Fatal(err)
	}
	if c.check != nil {
		c.check(t, resp)
	}
	return resp, fmt.Sprintf("%s:%d", file[strings.LastIndexByte(file, '/')+1:], line)
}

// fetchAndDropBody makes c's request and drops the response, reading it
// to its end first if read is set; it returns the line that called the
// client.
//
//go:noinline
func fetchAndDropBody(t *testing.T, client *http.Client, c matrixCase, url string, read bool) string {
	resp, line := fetch(t, client, c, url)
	if read {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	return line
}

// awaitLeak forces collections, one at a time, until lt has recorded a
// leaked body, and returns it with the number of collections it took; it
// fails the test if none is found within maxCollections. After each
// collection it waits, bounded, for the runtime's cleanup and the
// Tracker's report.
func awaitLeak(t *testing.T, lt *leakTracker) (memory.Lifetime, int) {
	t.Helper()
	for gc := 1; gc <= maxCollections; gc++ {
		runtime.GC()
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			_ = lt.Flush(ctx)
			cancel()
			if leaks := lt.exp.Leaks(); len(leaks) > 0 {
				if len(leaks) > 1 {
					t.Errorf("%d leaks, want 1: %v", len(leaks), names(leaks))
				}
				return leaks[0], gc
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Fatalf("no leak found after %d collections; open: %d", maxCollections, len(lt.Live()))
	return memory.Lifetime{}, 0
}

// noReport forces collections and fails the test if anything was found
// leaked or is left open.
func noReport(t *testing.T, lt *leakTracker) {
	t.Helper()
	for range maxCollections + 1 {
		runtime.GC()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := lt.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if leaks := lt.exp.Leaks(); len(leaks) != 0 {
		t.Errorf("reported leaked: %v", names(leaks))
	}
	if live := lt.Live(); len(live) != 0 {
		t.Errorf("%d lifetimes left open", len(live))
	}
}

func TestMatrix(t *testing.T) {
	t.Parallel()
	srv := newMatrixServers(t)
	for _, c := range matrixCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			t.Run("dropped", func(t *testing.T) {
				lt := newLeakTracker(t)
				client, url := srv.client(t, c, lt.Tracker)
				line := fetchAndDropBody(t, client, c, url, false)
				if c.noBody {
					noReport(t, lt)
					if n := len(lt.exp.Lifetimes()); n != 0 {
						t.Errorf("%d lifetimes for a response without a body", n)
					}
					return
				}
				l, gcs := awaitLeak(t, lt)
				t.Logf("found after %d collection(s)", gcs)
				if l.Name != guardhttp.LifetimeName || l.Outcome != otelguard.OutcomeLeaked {
					t.Errorf("%s %s, want %s leaked_without_close", l.Name, l.Outcome, guardhttp.LifetimeName)
				}
				if !strings.Contains(l.AcquireStack, line) {
					t.Errorf("acquire stack does not name %s:\n%s", line, l.AcquireStack)
				}
			})
			if c.noBody {
				return
			}
			t.Run("read to EOF, not closed", func(t *testing.T) {
				lt := newLeakTracker(t)
				client, url := srv.client(t, c, lt.Tracker)
				line := fetchAndDropBody(t, client, c, url, true)
				l, _ := awaitLeak(t, lt)
				if l.Outcome != otelguard.OutcomeLeaked || !attrs(l.Span.Attributes)[guardhttp.DrainedKey].AsBool() {
					t.Errorf("%s drained=%v, want leaked_without_close drained=true", l.Outcome, attrs(l.Span.Attributes)[guardhttp.DrainedKey].AsBool())
				}
				if !strings.Contains(l.AcquireStack, line) {
					t.Errorf("acquire stack does not name %s:\n%s", line, l.AcquireStack)
				}
			})
			t.Run("closed", func(t *testing.T) {
				lt := newLeakTracker(t)
				client, url := srv.client(t, c, lt.Tracker)
				resp, _ := fetch(t, client, c, url)
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					t.Fatal(err)
				}
				if err := resp.Body.Close(); err != nil {
					t.Fatal(err)
				}
				noReport(t, lt)
				for _, l := range lt.exp.Lifetimes() {
					if l.Outcome != otelguard.OutcomeCleaned {
						t.Errorf("%s %s, want cleaned", l.Name, l.Outcome)
					}
				}
			})
		})
	}
}
