package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardhttp"
	"github.com/otelguard/otelguard-go/otelguard"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// flushTimeout is what /timeout's Close gives its release.
const flushTimeout = 20 * time.Millisecond

type server struct {
	late time.Duration

	mu      sync.Mutex
	kept    []*otelguard.Resource[*cacheEntry] // /late's entries, until dropped
	dropped chan struct{}                      // closed when they are
}

type cacheEntry struct{ key string }

func stories(args []string) error {
	fs := flag.NewFlagSet("stories", flag.ContinueOnError)
	clean := fs.Int("clean", 100, "`N` requests to /clean")
	fail := fs.Int("fail", 10, "`N` requests to /fail")
	timeout := fs.Int("timeout", 10, "`N` requests to /timeout")
	late := fs.Duration("late", 10*time.Second, "how long after its request /late's lifetime is dropped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	tel, err := newTelemetry(ctx)
	if err != nil {
		return err
	}
	s := &server{late: *late, dropped: make(chan struct{})}
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelhttp.WithTracerProvider(tel.tp)))
	}
	handle("GET /late", s.handleLate)
	handle("GET /clean", s.handleClean)
	handle("GET /fail", s.handleFail)
	handle("GET /timeout", s.handleTimeout)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: guardhttp.NewHandler(mux, guardhttp.WithTracker(tel.tracker)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)

	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	err = get(client, base+"/late")
	asked := time.Now()
	for _, r := range []struct {
		path string
		n    int
	}{{"/clean", *clean}, {"/fail", *fail}, {"/timeout", *timeout}} {
		for range r.n {
			if err != nil {
				break
			}
			err = get(client, base+r.path)
		}
	}
	client.CloseIdleConnections()
	if err == nil {
		err = s.awaitLateLeak(tel, asked)
	}
	sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	return errors.Join(err, srv.Shutdown(sctx), tel.shutdown())
}

// awaitLateLeak waits until /late's entries are dropped, then collects
// until the Tracker has emitted the leak finding, for a bounded time.
func (s *server) awaitLateLeak(tel *telemetry, asked time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.late+time.Minute)
	defer cancel()
	select {
	case <-s.dropped:
	case <-ctx.Done():
		return errors.New("/late's entry was never dropped")
	}
	collect := func() {
		runtime.GC()
		_ = tel.tracker.Flush(ctx)
	}
	if _, ok := tel.findings.wait(ctx, "leaked_without_close", "cache.entry", collect); !ok {
		return errors.New("the garbage collector did not find /late's entry")
	}
	fmt.Printf("stories: late leak found after %v\n", time.Since(asked).Round(time.Millisecond))
	return nil
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	// /fail and /timeout answer 502 and 504, as a service does: only a
	// 500 is a handler that broke.
	if err == nil && resp.StatusCode == http.StatusInternalServerError {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return err
}

// handleLate caches an entry meant to outlive the request; a bug drops the
// cache's reference to it, late, without closing it: the garbage
// collector finds it leaked long after the request's trace was decided.
func (s *server) handleLate(w http.ResponseWriter, r *http.Request) {
	e := otelguard.Acquire(r.Context(), "cache.entry", &cacheEntry{key: "user:1"},
		func(context.Context, *cacheEntry) error { return nil }, otelguard.OutlivesRequest())
	s.mu.Lock()
	s.kept = append(s.kept, e)
	s.mu.Unlock()
	time.AfterFunc(s.late, func() {
		s.mu.Lock()
		s.kept = nil // the entry's Close forgotten: the bug
		s.mu.Unlock()
		close(s.dropped)
	})
	fmt.Fprintln(w, "late: cached")
}

// handleClean holds a lock for the job and releases it.
func (s *server) handleClean(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := otelguard.Acquire(ctx, "job.lock", struct{}{}, func(context.Context, struct{}) error { return nil })
	_ = l.Close(ctx)
	fmt.Fprintln(w, "clean")
}

// handleFail's upload is refused when it is released: failed.
func (s *server) handleFail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := otelguard.Acquire(ctx, "upload", struct{}{}, func(context.Context, struct{}) error {
		return errors.New("upload refused by the archive")
	})
	if err := u.Close(ctx); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintln(w, "uploaded")
}

// handleTimeout's flush takes longer than the Close gives it: timed_out.
func (s *server) handleTimeout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := otelguard.Acquire(ctx, "flush", struct{}{}, func(ctx context.Context, _ struct{}) error {
		<-ctx.Done() // a flush to a peer that does not answer
		return ctx.Err()
	})
	cctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := f.Close(cctx); err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	fmt.Fprintln(w, "flushed")
}
