package guardhttp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/internal/attrkey"
	"github.com/otelguard/otelguard-go/otelguard"
)

// fakeBody is a response body served from memory that says whether it was
// read to its end and closed.
type fakeBody struct {
	r               *strings.Reader
	drained, closed atomic.Bool
}

func (b *fakeBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.drained.Store(true)
	}
	return n, err
}

func (b *fakeBody) Close() error { b.closed.Store(true); return nil }

// fakeTransport answers from memory, as tests inside a testing/synctest
// bubble do (a real socket is never durably blocked, so fake time would
// not move), and keeps the bodies it gave.
type fakeTransport struct{ bodies []*fakeBody }

func (f *fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b := &fakeBody{r: strings.NewReader("hello, world\n")}
	f.bodies = append(f.bodies, b)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: b, ContentLength: 13, Request: r}, nil
}

// dropBody makes a GET and drops its body unread and unclosed.
//
//go:noinline
func dropBody(t *testing.T, client *http.Client) {
	resp, err := client.Get("http://example.test/drop") //otelguard:handoff dropped on purpose: the leak the test wants found
	if err != nil {
		t.Fatal(err)
	}
	_ = resp
}

// TestInABubble: NewTransport inside a testing/synctest bubble, over a
// transport answering from memory: a body held past the hold threshold in
// fake time is named at once; a dropped body is found by the collector
// (outside the bubble) without a fatal error, and CloseAll inside the
// bubble runs its ReleaseOnLeak release, which drains and closes it, as
// the release of a leak does.
func TestInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newLeakTracker(t, otelguard.WithDefaultHoldThreshold(time.Second))
		base := &fakeTransport{}
		client := &http.Client{Transport: guardhttp.NewTransport(base, guardhttp.WithTracker(tr.Tracker))}

		resp, err := client.Get("http://example.test/held")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		held := only(t, tr.exp.Lifetimes(), guardhttp.LifetimeName)
		if held.Outcome != otelguard.OutcomeCleaned {
			t.Errorf("held body: %s", held.Outcome)
		}
		var exceeded bool
		for _, ev := range held.Span.Events {
			exceeded = exceeded || ev.Name == attrkey.EventHoldExceeded
		}
		if !exceeded {
			t.Errorf("held 2s of fake time past a 1s threshold, no %s event", attrkey.EventHoldExceeded)
		}

		dropBody(t, client)
		collectLeaks(t, tr, 1)
		dropped := base.bodies[1]
		if dropped.closed.Load() {
			t.Fatal("the dropped body was closed from outside the bubble")
		}
		if err := tr.CloseAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !dropped.drained.Load() || !dropped.closed.Load() {
			t.Errorf("after CloseAll: drained %v, closed %v; want the leak's release: drained and closed", dropped.drained.Load(), dropped.closed.Load())
		}
	})
}
