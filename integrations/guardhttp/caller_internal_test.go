package guardhttp

import (
	"net/http"
	"runtime"
	"testing"
)

// walkTransport answers every request itself, without a body, after
// running walk from its RoundTrip as the real one runs callerSkip.
type walkTransport struct {
	walk func() int
	skip *int
}

func (w walkTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	*w.skip = w.walk()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// callerSkipUncached is callerSkip symbolizing every PC, as it would
// without the class cache.
func callerSkipUncached() int {
	var buf [firstLook]uintptr
	n := runtime.Callers(2, buf[:])
	pcs := buf[:n]
	i := 0
	for i < len(pcs) && classOf(pcs[i]) != classNetHTTP {
		i++
	}
	for i < len(pcs) && classOf(pcs[i]) == classNetHTTP {
		i++
	}
	return i
}

//go:noinline
func clientCall(c *http.Client, req *http.Request) {
	resp, err := c.Do(req)
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
}

// callerSkip counts the frames from RoundTrip to the function that called
// the client, and the class cache answers as symbolizing does.
func TestCallerSkipCountsToTheClientsCaller(t *testing.T) {
	for _, walk := range []func() int{callerSkip, callerSkipUncached, callerSkip} { // the second callerSkip: from the cache
		var skip int
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		clientCall(&http.Client{Transport: walkTransport{walk, &skip}}, req)
		if skip < 5 {
			t.Fatalf("skip %d: net/http's client has at least Get/Do, do, send, send between", skip)
		}
		// Walk again to name the frame skip points at.
		var name string
		probe := func() int {
			pcs := make([]uintptr, skip+1)
			runtime.Callers(2+skip, pcs) // 0 Callers, 1 probe, 2 RoundTrip
			name = runtime.FuncForPC(pcs[0] - 1).Name()
			return 0
		}
		clientCall(&http.Client{Transport: walkTransport{probe, new(int)}}, req)
		if name != selfPrefix+"clientCall" {
			t.Errorf("frame %d from RoundTrip is %s, want clientCall", skip, name)
		}
	}
	var pcs [maxCallerFrames]uintptr
	n := runtime.Callers(0, pcs[:])
	for _, pc := range pcs[:n] {
		if a, b := classify(pc), classOf(pc); a != b || classify(pc) != b {
			t.Errorf("classify(%#x) = %d, classOf = %d", pc, a, b)
		}
	}
}

// BenchmarkCallerSkip measures the walk of RoundTrip's stack through an
// http.Client whose transport answers in memory: impl=none does no walk,
// impl=cached is callerSkip, impl=funcforpc symbolizes every frame.
func BenchmarkCallerSkip(b *testing.B) {
	for _, impl := range []struct {
		name string
		walk func() int
	}{
		{"none", func() int { return 0 }},
		{"cached", callerSkip},
		{"funcforpc", callerSkipUncached},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			var skip int
			c := &http.Client{Transport: walkTransport{impl.walk, &skip}}
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			b.ReportAllocs()
			for b.Loop() {
				clientCall(c, req)
			}
		})
	}
}
