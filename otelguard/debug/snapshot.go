package debug

import (
	"encoding/binary"
	"runtime"
	"strconv"
	"time"

	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
)

// State is what a still-open lifetime is doing, as the profile's
// otelguard.state label says it. A lifetime has one state; where several
// apply, the first in this list wins.
type State string

// The states.
const (
	// StateReleasing: its release runs now (or, having outlived its
	// deadline, runs on in the background).
	StateReleasing State = "releasing"
	// StateLeaked: leak detection found its handle unreachable; it waits
	// for CloseOnCancel to release it.
	StateLeaked State = "leaked"
	// StateReported: Tracker.Shutdown reported it open_at_shutdown, and
	// nothing has released it since.
	StateReported State = "reported"
	// StateOpen: none of the above.
	StateOpen State = "open"
)

func stateOf(l *otelguard.LiveLifetime) State {
	switch {
	case l.Releasing:
		return StateReleasing
	case l.Leaked:
		return StateLeaked
	case l.Reported:
		return StateReported
	}
	return StateOpen
}

// entry is one open lifetime, read once from Tracker.Live.
type entry struct {
	live  *otelguard.LiveLifetime // in the slice Live returned
	stack int                     // index into view.stacks; -1 when no stack was captured
	age   time.Duration
	state State
}

// view is the open lifetimes of a Tracker at one instant, oldest first,
// with their distinct acquire stacks gathered once: lifetimes acquired
// through the same code share a stack, and a view of a million of them
// keeps a handful of stacks.
type view struct {
	now     time.Time
	entries []entry
	stacks  [][]uintptr
}

// snapshot reads the open lifetimes of t (nil: otelguard.Default()), with
// their ages at one instant, and, if withStacks, gathers their distinct
// acquire stacks (else every entry's stack is -1).
func snapshot(t *otelguard.Tracker, withStacks bool) *view {
	if t == nil {
		t = otelguard.Default()
	}
	ls := t.Live()
	v := &view{
		now:     time.Now(), // after Live: no lifetime is younger than zero
		entries: make([]entry, len(ls)),
	}
	index := make(map[string]int)
	var key []byte
	var scratch []uintptr
	for i := range ls {
		l := &ls[i]
		age := v.now.Sub(l.AcquiredAt)
		if age < 0 {
			age = 0
		}
		e := entry{live: l, stack: -1, age: age, state: stateOf(l)}
		if withStacks {
			if scratch = append(scratch[:0], bridge.LivePCs(*l)...); len(scratch) > 0 {
				key = pcBytes(key[:0], scratch)
				idx, ok := index[string(key)] // no allocation for the lookup
				if !ok {
					idx = len(v.stacks)
					index[string(key)] = idx
					v.stacks = append(v.stacks, append([]uintptr(nil), scratch...))
				}
				e.stack = idx
			}
		}
		v.entries[i] = e
	}
	return v
}

// pcBytes appends pcs to dst as bytes: a map key for a stack.
func pcBytes(dst []byte, pcs []uintptr) []byte {
	for _, pc := range pcs {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(pc))
	}
	return dst
}

// symbolizer expands program counters into frames, each PC once per view.
type symbolizer struct {
	frames map[uintptr][]runtime.Frame
}

func newSymbolizer() *symbolizer {
	return &symbolizer{frames: make(map[uintptr][]runtime.Frame)}
}

// expand returns the frames of one return PC as runtime.Callers gives it:
// usually one frame (Callers reports each inlined call at a PC of its
// own), more for a cgo symbolizer's expansion. It returns nil for
// runtime.goexit, which profiles leave out.
func (s *symbolizer) expand(pc uintptr) []runtime.Frame {
	if fs, ok := s.frames[pc]; ok {
		return fs
	}
	var fs []runtime.Frame
	it := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := it.Next()
		if f.Function == "runtime.goexit" {
			break
		}
		if f.PC == 0 {
			// Not symbolized: a plausible call PC, as runtime/pprof
			// makes up.
			f.PC = pc - 1
		}
		fs = append(fs, f)
		if !more {
			break
		}
	}
	s.frames[pc] = fs
	return fs
}

// site is the acquire site of a non-empty stack: its first frame, the
// code that acquired the lifetime, as "function file:line", the file name
// cut by trim.
func (s *symbolizer) site(pcs []uintptr) string {
	fs := s.expand(pcs[0])
	if len(fs) == 0 || fs[0].Function == "" {
		return "0x" + strconv.FormatUint(uint64(pcs[0]), 16)
	}
	f := fs[0]
	return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
}

// stackOf returns the acquire stack of e, nil if none was captured.
func (v *view) stackOf(e *entry) []uintptr {
	if e.stack < 0 {
		return nil
	}
	return v.stacks[e.stack]
}
