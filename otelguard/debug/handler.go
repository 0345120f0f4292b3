package debug

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/otelguard/otelguard-go/otelguard"
)

// Path is where Register mounts the handler.
const Path = "/debug/otelguard/live"

// Handler returns an http.Handler serving the lifetimes that t holds open
// at the time of each request. A nil t is otelguard.Default().
//
// It answers GET and HEAD (any other method: 405 Method Not Allowed, with
// an Allow header), following net/http/pprof's convention:
//
//   - ?debug=0, or no debug parameter: the pprof profile of WriteProfile,
//     Content-Type application/octet-stream, as `go tool pprof URL` reads
//     it;
//   - ?debug=1: the text of WriteText, grouped by acquire site;
//   - ?debug=2 or more: the text of WriteLifetimes, every lifetime with
//     its acquire stack;
//   - no debug parameter and an Accept header that names text/plain (with
//     a q above zero): the text of WriteText.
//
// A debug value that is not a whole number of zero or more gets 400 Bad
// Request. Text is served as text/plain; charset=utf-8. Every answer is
// built in full before it is sent, with its Content-Length, so a failure
// to build it is a 500 Internal Server Error rather than a cut body; every
// answer carries Cache-Control: no-store and X-Content-Type-Options:
// nosniff. Other query parameters (such as the seconds that
// `go tool pprof -seconds` adds) are ignored: the view is of one instant.
//
// The handler is safe for concurrent use. Each request reads
// otelguard.Tracker.Live once and symbolizes each distinct program counter
// once; it never blocks acquires or releases for longer than Live does.
func Handler(t *otelguard.Tracker) http.Handler {
	if t == nil {
		t = otelguard.Default()
	}
	return &handler{t: t}
}

// Register mounts Handler(t) on mux at Path, /debug/otelguard/live, as a
// pattern without a method, so that the handler's own answer to other
// methods applies. A nil t is otelguard.Default(). Register panics if mux
// is nil, or (as http.ServeMux.Handle does) if the path is already
// registered.
func Register(mux *http.ServeMux, t *otelguard.Tracker) {
	if mux == nil {
		panic("otelguard: debug.Register: nil *http.ServeMux")
	}
	mux.Handle(Path, Handler(t))
}

type handler struct {
	t *otelguard.Tracker
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "otelguard: method not allowed: use GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	level, ok := debugLevel(r)
	if !ok {
		http.Error(w, "otelguard: debug must be a whole number of zero or more", http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	var err error
	switch {
	case level == 0:
		err = WriteProfile(&buf, h.t)
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Disposition", `attachment; filename="otelguard-live.pb.gz"`)
	case level == 1:
		err = WriteText(&buf, h.t)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
	default:
		err = WriteLifetimes(&buf, h.t)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
	}
	if err != nil {
		hdr.Del("Content-Disposition")
		http.Error(w, "otelguard: building the live view: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// debugLevel is the view a request asks for: 0 for the profile, 1 for the
// grouped text, 2 and above for the text of every lifetime. ok is false
// for a debug parameter that is not a whole number of zero or more.
func debugLevel(r *http.Request) (level int, ok bool) {
	if v := r.URL.Query().Get("debug"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, false
		}
		return n, true
	}
	if acceptsText(r.Header.Values("Accept")) {
		return 1, true
	}
	return 0, true
}

// acceptsText reports whether Accept header values name text/plain with a
// quality above zero.
func acceptsText(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "text/plain" {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
