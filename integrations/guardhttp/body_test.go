package guardhttp_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/otelguardtest"
)

// roundTripperFunc is an http.RoundTripper made of a function.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// writerToBody is a body with io.WriterTo, as a caching or decoding
// RoundTripper's may have; it counts the calls of WriteTo.
type writerToBody struct {
	io.ReadCloser
	calls *int
}

func (b writerToBody) WriteTo(w io.Writer) (int64, error) {
	*b.calls++
	return io.Copy(w, b.ReadCloser)
}

// The body keeps io.WriterTo where the original has it (io.Copy then uses
// it, and reaching its end counts as drained), and has none where the
// original has none (io.Copy would otherwise call a WriteTo that cannot
// work).
func TestBodyKeepsWriterTo(t *testing.T) {
	t.Parallel()
	rec := otelguardtest.NewTracker(t)
	srv := newServer(t, hello)
	base := newBase(t)
	calls := 0
	withWriterTo := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err == nil {
			resp.Body = writerToBody{resp.Body, &calls}
		}
		return resp, err
	})

	resp := get(t, rec.Context(), &http.Client{Transport: guardhttp.NewTransport(withWriterTo)}, srv.URL)
	if _, ok := resp.Body.(io.WriterTo); !ok {
		t.Fatalf("body %T lost io.WriterTo", resp.Body)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil || buf.String() != "hello, world\n" {
		t.Fatalf("io.Copy: %q, %v", buf.String(), err)
	}
	if calls != 1 {
		t.Errorf("WriteTo called %d times, want 1 (by io.Copy)", calls)
	}
	_ = resp.Body.Close()
	if l := only(t, rec.Lifetimes(), guardhttp.LifetimeName); !attrs(l.Span.Attributes)[guardhttp.DrainedKey].AsBool() {
		t.Error("a body written to its end by WriteTo is not drained")
	}

	resp = get(t, rec.Context(), &http.Client{Transport: guardhttp.NewTransport(base)}, srv.URL)
	defer resp.Body.Close()
	if _, ok := resp.Body.(io.WriterTo); ok {
		t.Errorf("body %T has io.WriterTo; net/http's has none", resp.Body)
	}
	if _, ok := resp.Body.(io.Writer); ok {
		t.Errorf("body %T of a 200 has io.Writer", resp.Body)
	}
}

// echoUpgrade switches to the protocol "echo" (101 Switching Protocols),
// then sends back what it reads until the client half-closes.
var echoUpgrade = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		http.Error(w, "upgrade to echo", http.StatusUpgradeRequired)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	_, _ = io.Copy(conn, brw)
})

// A 101 Switching Protocols response's body is the connection: it stays
// an io.ReadWriteCloser (and keeps CloseWrite), so the protocol can be
// spoken over it, and its Close ends the lifetime.
func TestSwitchingProtocolsBodyIsReadWriteCloser(t *testing.T) {
	t.Parallel()
	rec := otelguardtest.NewTracker(t)
	srv := newServer(t, echoUpgrade)
	client := &http.Client{Transport: guardhttp.NewTransport(newBase(t))}

	req := mustRequest(t, rec.Context(), srv.URL)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s", resp.Status)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("body %T of a 101 is not an io.ReadWriteCloser", resp.Body)
	}
	cw, ok := resp.Body.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("body %T of a 101 lost CloseWrite", resp.Body)
	}
	if _, err := io.WriteString(rwc, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(rwc).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if err := rwc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l := only(t, rec.Lifetimes(), guardhttp.LifetimeName)
	if l.Outcome != otelguard.OutcomeCleaned {
		t.Errorf("outcome %s, want cleaned", l.Outcome)
	}
	if got := attrs(l.Span.Attributes)["http.response.status_code"].AsInt64(); got != 101 {
		t.Errorf("status code %d, want 101", got)
	}
}

// The caller's response gets the trailers of a chunked body once its
// Read returned io.EOF, as net/http promises, declared or not: the body
// is a wrapper on a copy of the response net/http fills in (see
// transport.watch), and the wrapper carries them over.
func TestTrailersReachTheCallersResponse(t *testing.T) {
	t.Parallel()
	rec := otelguardtest.NewTracker(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("declared") {
			w.Header().Set("Trailer", "Declared")
		}
		_, _ = io.WriteString(w, "hello, ")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "world\n")
		w.Header().Set(http.TrailerPrefix+"Declared", "yes")
		w.Header().Set(http.TrailerPrefix+"Undeclared", "also")
	}))
	base := newBase(t)
	calls := 0
	withWriterTo := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err == nil {
			resp.Body = writerToBody{resp.Body, &calls}
		}
		return resp, err
	})
	for _, c := range []struct {
		query       string
		viaWriterTo bool
	}{{"", false}, {"", true}, {"?declared", false}, {"?declared", true}} {
		viaWriterTo := c.viaWriterTo
		client := &http.Client{Transport: guardhttp.NewTransport(base)}
		if viaWriterTo {
			client.Transport = guardhttp.NewTransport(withWriterTo)
		}
		resp := get(t, rec.Context(), client, srv.URL+c.query)
		var err error
		if viaWriterTo {
			_, err = resp.Body.(io.WriterTo).WriteTo(io.Discard)
		} else {
			_, err = io.ReadAll(struct{ io.Reader }{resp.Body})
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Trailer.Get("Declared") + "," + resp.Trailer.Get("Undeclared"); got != "yes,also" {
			t.Errorf("%s WriteTo %v: trailers %q, want yes,also (%v)", c.query, viaWriterTo, got, resp.Trailer)
		}
		_ = resp.Body.Close()
	}
}
