package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
)

// catalogEntries is how many lines the upstream's catalog has: about
// 20 KiB, far over the 2 KiB net/http buffers before it must choose
// between a Content-Length and chunked encoding, and over what a 4 KiB
// bufio.Reader reads ahead, so the handler never sees its end.
const catalogEntries = 250

// serveCatalog is the upstream's GET /catalog: its catalog, streamed with
// no Content-Length and flushed after the first line, so the response is
// chunked (Transfer-Encoding: chunked), as most streamed and most large
// responses of Go servers are.
func serveCatalog(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for i := range catalogEntries {
		fmt.Fprintf(w, "entry %03d: %s\n", i, strings.Repeat("x", 64))
		if i == 0 {
			_ = http.NewResponseController(w).Flush()
		}
	}
}

// handleCatalog shows the first entry of the upstream's catalog, a
// chunked response, through the client's guardhttp Transport: the first
// line will do, and resp.Body.Close is forgotten. NewHandler reports the
// body as outliving the request when the handler returns, and leak
// detection finds it at a collection: http.response.body
// leaked_without_close, trigger gc, with this function and its
// s.client.Do line in code.stacktrace, otelguard.missed_close=true. (Before
// issue 23's fix, a chunked body pointed back to its response, which held
// the watched body: it was never found, only reported open at shutdown.)
func (s *server) handleCatalog(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.upstream+"/catalog", nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := s.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		resp.Body.Close()
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprint(w, "catalog: ", first)
	// resp.Body.Close forgotten once the first line is read: the bug this story is about
}
