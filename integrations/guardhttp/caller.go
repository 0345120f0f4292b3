package guardhttp

import (
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
)

// The acquire stack of a response body should start at the code that
// called the client (client.Get, client.Do), not in net/http or here.
// Between that code and RoundTrip sit a varying number of net/http frames
// (Client.Get → Client.Do → Client.do → Client.send → send, more with a
// Client.Timeout or on HTTP/2) and maybe other RoundTrippers wrapping this
// one (otelhttp's Transport), so a fixed otelguard.WithCallerSkip cannot
// fit. RoundTrip counts instead: it walks its own stack to the first frame
// past net/http's, and gives Acquire WithCallerSkip of that count.
//
// The walk, over logical frames (RoundTrip is frame 0):
//
//  1. skip this package's frames and whatever RoundTrippers wrap this one,
//     up to the first net/http frame (a function whose name starts with
//     "net/http."; net/http/httputil and other subpackages are not net/http);
//  2. skip the net/http frames; the next frame is the caller's.
//
// With no net/http frame on the stack (RoundTrip called directly, or by
// httputil.ReverseProxy), the caller is the first frame outside this
// package. When the stack is deeper than the frames looked at, the same
// fallback applies.
//
// runtime.Callers gives one PC per logical frame (an inlined call has its
// own), and otelguard's skip counts logical frames as runtime.Callers does,
// so a frame's index here is its skip there.

// The walk unwinds the stack (runtime.Callers): about 400ns, plus 40ns a
// frame, on the machine of docs/PERFORMANCE.md. It looks at firstLook
// frames, enough for a client call (the caller is frame 5 of a
// client.Do, 8 of an http.Get through otelhttp's Transport), and at up to
// maxCallerFrames only when the caller is not among them. Looking at 10
// rather than 16 frames saves about 150ns when the stack goes deeper, as
// a handler's does.
const (
	firstLook       = 10
	maxCallerFrames = 64
)

// selfPrefix is the prefix of the names of this package's functions.
var selfPrefix = func() string {
	name := runtime.FuncForPC(reflect.ValueOf(NewTransport).Pointer()).Name()
	return name[:strings.LastIndexByte(name, '.')+1] // "…/guardhttp."
}()

// frameClass says where a frame's function belongs.
type frameClass uint64

const (
	classOther   frameClass = 1 + iota // the caller's code, or another RoundTripper
	classSelf                          // this package
	classNetHTTP                       // net/http
)

// callerSkip returns the number of logical frames between its caller (the
// RoundTrip that calls it, frame 0) and the code that called the client.
func callerSkip() int {
	var buf [maxCallerFrames]uintptr
	n := runtime.Callers(2, buf[:firstLook]) // 0: Callers, 1: callerSkip, 2: RoundTrip
	if skip, ok := walk(buf[:n], n < firstLook); ok {
		return skip
	}
	n = runtime.Callers(2, buf[:])
	skip, _ := walk(buf[:n], true)
	return skip
}

// walk finds the caller's frame in pcs, RoundTrip's stack from RoundTrip
// out. whole says pcs reaches the stack's end; if it does not and the
// caller is not found in it, ok is false.
func walk(pcs []uintptr, whole bool) (skip int, ok bool) {
	firstOther := -1 // the fallback: the first frame outside this package
	i := 0
	for ; i < len(pcs); i++ {
		c := classify(pcs[i])
		if c == classNetHTTP {
			break
		}
		if c == classOther && firstOther < 0 {
			firstOther = i
		}
	}
	for ; i < len(pcs); i++ {
		if classify(pcs[i]) != classNetHTTP {
			return i, true
		}
	}
	if !whole {
		return 0, false
	}
	return max(firstOther, 0), true
}

// The class of a PC is cached: symbolizing one (runtime.FuncForPC, which
// for an inlined frame decodes the inline tree) costs more than the whole
// walk otherwise does; see BenchmarkCallerSkip. The cache is a fixed table
// of atomic words, each a PC shifted left by two with its class in the low
// bits: a lookup is one atomic load and allocates nothing (a sync.Map would
// box every uintptr key), a collision only costs a symbolization, and the
// table cannot grow.
const (
	classCacheBits = 10
	classCacheSize = 1 << classCacheBits
)

var classCache [classCacheSize]atomic.Uint64

func classify(pc uintptr) frameClass {
	slot := &classCache[uint64(pc)*0x9e3779b97f4a7c15>>(64-classCacheBits)]
	if v := slot.Load(); v != 0 && uintptr(v>>2) == pc {
		return frameClass(v & 3)
	}
	c := classOf(pc)
	if uint64(pc)>>62 == 0 { // always so for user-space addresses; else just not cached
		slot.Store(uint64(pc)<<2 | uint64(c))
	}
	return c
}

// classOf symbolizes pc, a return PC, to find where its function belongs.
func classOf(pc uintptr) frameClass {
	f := runtime.FuncForPC(pc - 1) // the call is just before the return PC
	if f == nil {
		return classOther
	}
	switch name := f.Name(); {
	case strings.HasPrefix(name, "net/http."):
		return classNetHTTP
	case strings.HasPrefix(name, selfPrefix):
		return classSelf
	}
	return classOther
}
