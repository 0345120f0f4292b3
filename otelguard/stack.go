package otelguard

import (
	"hash/maphash"

	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A stack is an acquire stack: program counters captured by
// runtime.Callers. Stacks are interned process-wide, so the millionth
// lifetime acquired at one call site shares the first one's record and
// costs one pointer. Nothing is symbolized until a stack is reported.
type stack struct {
	hash uint64
	pcs  []uintptr
	text atomic.Pointer[string] // the rendering, shared by every report
}

// inlineStackDepth frames are captured into a buffer on the goroutine's
// stack; deeper captures allocate a buffer.
const inlineStackDepth = 64

// maxStackBytes bounds the text of one symbolized stack.
const maxStackBytes = 16 << 10

// The intern table: open addressing over a fixed array of atomic slots. A
// slot, once filled, never changes, so a lookup is a few atomic loads and
// no lock. When a probe sequence is full the stack is kept unshared.
const (
	stackTableBits  = 13
	stackTableSize  = 1 << stackTableBits
	stackTableProbe = 8
)

var (
	stackSeed  = new(maphash.Hash).Sum64() | 1 // random per process
	stackTable [stackTableSize]atomic.Pointer[stack]
)

// captureStack records up to depth program counters of the calling
// goroutine, skipping skip frames above captureStack's caller (skip 0 is
// the caller of captureStack), and returns the interned record.
func captureStack(skip, depth int, skipPkgs []string) *stack {
	if depth <= 0 {
		return nil
	}
	want := depth
	if len(skipPkgs) > 0 {
		want += maxSkippedFrames
	}
	var buf [inlineStackDepth]uintptr
	var pcs []uintptr
	if want <= len(buf) {
		pcs = buf[:want]
	} else {
		pcs = make([]uintptr, want)
	}
	n := runtime.Callers(skip+2, pcs)
	pcs = pcs[:n]
	if len(skipPkgs) > 0 {
		i := 0
		for i < len(pcs) && i < maxSkippedFrames && inPackages(pcFunc(pcs[i]), skipPkgs) {
			i++
		}
		pcs = pcs[i:min(len(pcs), i+depth)]
	}
	if len(pcs) == 0 {
		return nil
	}
	return internStack(pcs)
}

// maxSkippedFrames bounds the frames WithCallerSkipPackages drops.
const maxSkippedFrames = 32

// pcNames caches the function name of a return PC: a lifetime acquired
// behind net/http or database/sql looks at the same few PCs every time.
var pcNames sync.Map // uintptr -> string

// pcFunc returns the function of the call that returns to pc, the
// innermost when calls are inlined there.
func pcFunc(pc uintptr) string {
	if v, ok := pcNames.Load(pc); ok {
		return v.(string)
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	pcNames.Store(pc, f.Function)
	return f.Function
}

// inPackages reports whether fn (a function name as the runtime gives it,
// such as "net/http.(*Client).do") belongs to one of pkgs (import paths).
func inPackages(fn string, pkgs []string) bool {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return false
	}
	pkg := fn[:slash+1+dot]
	for _, p := range pkgs {
		if pkg == p {
			return true
		}
	}
	return false
}

// internStack returns the shared record equal to pcs, creating it if
// needed. pcs is copied; the caller may reuse it.
func internStack(pcs []uintptr) *stack {
	h := hashPCs(pcs)
	i := h & (stackTableSize - 1)
	var fresh *stack
	for range stackTableProbe {
		slot := &stackTable[i]
		for {
			s := slot.Load()
			if s == nil {
				if fresh == nil {
					fresh = &stack{hash: h, pcs: append([]uintptr(nil), pcs...)}
				}
				if slot.CompareAndSwap(nil, fresh) {
					return fresh
				}
				continue // lost the race for this slot; look at the winner
			}
			if s.hash == h && equalPCs(s.pcs, pcs) {
				return s
			}
			break
		}
		i = (i + 1) & (stackTableSize - 1)
	}
	if fresh == nil {
		fresh = &stack{hash: h, pcs: append([]uintptr(nil), pcs...)}
	}
	return fresh
}

// hashPCs mixes the program counters into a table hash; equal stacks are
// told apart by equalPCs, so the hash only needs to spread them.
func hashPCs(pcs []uintptr) uint64 {
	h := stackSeed
	for _, pc := range pcs {
		h ^= uint64(pc)
		h *= 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	return h
}

func equalPCs(a, b []uintptr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// PCs returns a copy of the program counters.
func (s *stack) PCs() []uintptr {
	if s == nil {
		return nil
	}
	return append([]uintptr(nil), s.pcs...)
}

// format renders the stack in the format of a Go traceback, one frame per
// two lines:
//
//	main.handler(...)
//		/src/app/main.go:42 +0x1d
//
// runtime.goexit and runtime.main, which a Go traceback hides, are left
// out. The text is bounded by maxStackBytes and cached in the record: a
// million lifetimes acquired at one site and reported at once share one
// symbolization and one string.
func (s *stack) format() string {
	if s == nil || len(s.pcs) == 0 {
		return ""
	}
	if t := s.text.Load(); t != nil {
		return *t
	}
	text := s.render()
	s.text.Store(&text)
	return text
}

func (s *stack) render() string {
	var b strings.Builder
	frames := runtime.CallersFrames(s.pcs)
	for {
		f, more := frames.Next()
		if f.Function != "runtime.goexit" && f.Function != "runtime.main" && f.Function != "" {
			line := formatFrame(f)
			if b.Len()+len(line) > maxStackBytes {
				b.WriteString("...additional frames elided...\n")
				break
			}
			b.WriteString(line)
		}
		if !more {
			break
		}
	}
	return b.String()
}

func formatFrame(f runtime.Frame) string {
	var b strings.Builder
	b.Grow(len(f.Function) + len(f.File) + 32)
	b.WriteString(f.Function)
	b.WriteString("(...)\n\t")
	b.WriteString(f.File)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(f.Line))
	if f.Func != nil && f.Entry != 0 && f.PC >= f.Entry { // not for inlined frames, as a Go traceback
		b.WriteString(" +0x")
		b.WriteString(strconv.FormatUint(uint64(f.PC-f.Entry), 16))
	}
	b.WriteByte('\n')
	return b.String()
}

// stackText is the lifetime's acquire stack as its Tracker renders it.
func (l *lifetime) stackText() string { return l.stack.format() }

