package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// stories are the requests the selftest sends, n times each; /poll is sent
// and then cancelled.
var stories = []string{
	"/query",
	"/leak",
	"/lookup",
	"/transfer",
	"/transfer?fail=1",
	"/report",
	"/quote?item=lamp",
	"/quote?item=unicorn",
	"/export",
	"/catalog",
}

// leaksPerRound is how many lifetimes one round of the stories leaks for
// the garbage collector to find: /leak's rows, /quote?item=unicorn's
// response body and /catalog's chunked one.
const leaksPerRound = 3

// runSelftest sends n requests of each story to the service at base, over
// loopback, then has the garbage collector find what /leak and /quote
// dropped.
func runSelftest(ctx context.Context, base string, n int, s *server, out io.Writer) error {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	leaks := bridge.LeakCount(s.tracker)
	_, _, missedBefore := bridge.MissedOf(s.tracker)
	for range n {
		for _, path := range stories {
			if err := get(ctx, client, base+path); err != nil {
				return err
			}
		}
		if err := getAndCancel(ctx, client, base+"/poll"); err != nil {
			return err
		}
	}
	found, err := collectLeaks(ctx, s.tracker, leaks+int64(leaksPerRound*n))
	fmt.Fprintf(out, "selftest: %d requests of each of %d stories; %d leaks found\n", n, len(stories)+1, found-leaks)
	// Every missed close so far: the leaks, and what database/sql closed
	// because a request's context ended (/lookup's rows, /transfer?fail=1's
	// transaction: on database/sql's goroutine, after the response, so
	// waited for). e2e compares it with what Jaeger finds.
	missed := waitMissed(ctx, s.tracker, missedBefore+int64(missedPerRound*n))
	fmt.Fprintf(out, "selftest: %d missed closes\n", missed-missedBefore)
	return err
}

// missedPerRound is how many missed closes one round of the stories
// makes: the leaks, /lookup's rows and /transfer?fail=1's transaction.
const missedPerRound = leaksPerRound + 2

// waitMissed waits, a bounded number of tries, until the tracker has
// counted want missed closes in all, and returns its count: more than
// want is a missed close no story meant, which e2e reports.
func waitMissed(ctx context.Context, tracker *otelguard.Tracker, want int64) int64 {
	var got int64
	for i := range 50 {
		if _, _, got = bridge.MissedOf(tracker); got >= want || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return got
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// getAndCancel is a client that gives up: it cancels its request once the
// handler has answered that it is waiting. Cancelling closes the
// connection, which cancels the request's context on the server.
func getAndCancel(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	cancel()
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// collectLeaks runs the garbage collector until the tracker has found want
// leaks in all, or gives up after a bounded number of tries. A collection
// queues the dropped values' cleanups; the runtime runs them, and the
// tracker reports them, on goroutines of their own: Flush waits for the
// reports already queued.
func collectLeaks(ctx context.Context, tracker *otelguard.Tracker, want int64) (int64, error) {
	for i := range 50 {
		runtime.GC()
		if err := tracker.Flush(ctx); err != nil {
			return bridge.LeakCount(tracker), err
		}
		if got := bridge.LeakCount(tracker); got >= want {
			return got, nil
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	got := bridge.LeakCount(tracker)
	return got, fmt.Errorf("selftest: the garbage collector found %d of the %d leaks", got, want)
}

// findingCount is a span processor that counts the finding spans
// (otelguard.finding) the service sent, by kind: those the sampler kept,
// which go to the exporter. The selftest prints it when the
// TracerProvider has shut down, so that what reached a backend can be
// checked against it.
type findingCount struct {
	mu     sync.Mutex
	byKind map[string]int
}

func (*findingCount) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (c *findingCount) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	for _, kv := range s.Attributes() {
		if kv.Key == "otelguard.finding" {
			c.mu.Lock()
			if c.byKind == nil {
				c.byKind = map[string]int{}
			}
			c.byKind[kv.Value.AsString()]++
			c.mu.Unlock()
			return
		}
	}
}

func (*findingCount) Shutdown(context.Context) error   { return nil }
func (*findingCount) ForceFlush(context.Context) error { return nil }

// String is the counts as kind=count, by kind, space-separated; "none"
// when there were none.
func (c *findingCount) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byKind) == 0 {
		return "none"
	}
	var kv []string
	for k, n := range c.byKind {
		kv = append(kv, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kv)
	return strings.Join(kv, " ")
}
