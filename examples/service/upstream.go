package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// archiveTime is how long the upstream's archive takes to acknowledge an
// upload: the slow release that CloseAsync keeps off the request's path.
const archiveTime = 150 * time.Millisecond

// prices is the upstream's price list, in cents.
var prices = map[string]int{"book": 1250, "lamp": 3999, "desk": 18900, "chair": 7450}

// upstream stands for a service of someone else's that this one calls
// over HTTP: a second server, on another port of 127.0.0.1, started and
// stopped with the service. It is not instrumented: what otelguard sees of
// it is what the service's client sees, the response bodies.
type upstream struct {
	url string
	srv *http.Server
}

// startUpstream starts the upstream on a free port of 127.0.0.1:
//
//	GET  /prices/{item}  the item's price, or 404 for an item it does not know
//	POST /archive        stores an upload, answering after archiveTime
//	GET  /catalog        a catalog of ~20 KiB, chunked (catalog.go)
func startUpstream() (*upstream, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /prices/{item}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := prices[r.PathValue("item")]
		if !ok {
			http.Error(w, "no such item: "+r.PathValue("item"), http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "%d.%02d\n", p/100, p%100)
	})
	mux.HandleFunc("POST /archive", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(archiveTime):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "archived %d bytes\n", n)
	})
	mux.HandleFunc("GET /catalog", serveCatalog)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go u.srv.Serve(ln)
	return u, nil
}

func (u *upstream) close(ctx context.Context) error {
	if err := u.srv.Shutdown(ctx); err != nil {
		return u.srv.Close()
	}
	return nil
}
