package otelguard

import (
	"bytes"
	"runtime"
	"strconv"
	"time"
)

// testing/synctest runs a test in a bubble: a group of goroutines with a
// fake clock of their own, whose channels and timers belong to it.
// Operating on a bubble's channel or timer from outside it is a fatal
// error that no recover can stop, and the runtime runs leak cleanups
// outside every bubble. So the library keeps track of where it is: a
// lifetime acquired in a bubble has flBubble, and the waits and signals
// that may cross a bubble's edge go through event.

// clockEpoch anchors acquire times: outside a bubble a lifetime keeps the
// monotonic nanoseconds since it, which is immune to clock steps.
var clockEpoch = time.Now()

// hasMono reports whether t carries a monotonic clock reading. time.Now
// gives one everywhere but inside a testing/synctest bubble, whose fake
// clock the runtime reports without one ("Don't return a monotonic time
// inside a synctest bubble", runtime/time.go).
func hasMono(t time.Time) bool { return t != t.Round(0) }

// inBubble reports whether the calling goroutine runs inside a
// testing/synctest bubble. It costs a clock read. (time.Since reads one
// clock where time.Now reads two, about 20ns less here, but inside a
// bubble it gives the fake wall clock less the real epoch, which tells a
// bubble from outside only while the fake clock is not 27 to 45 years on.
// Exact is worth 20ns.)
func inBubble() bool { return !hasMono(time.Now()) }

// bubbleID returns the ID of the bubble the calling goroutine runs in, or
// 0 outside every bubble; ok is false when it cannot be told. The runtime
// says it only in a goroutine's traceback header ("goroutine 7 [running,
// synctest bubble 2]:"), so this reads that header: a few microseconds,
// paid only where a wait or a signal meets a bubble.
func bubbleID() (id uint64, ok bool) {
	if !inBubble() {
		return 0, true
	}
	var buf [256]byte
	n := runtime.Stack(buf[:], false)
	header, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	const key = "synctest bubble "
	i := bytes.Index(header, []byte(key))
	if i < 0 {
		return 0, false
	}
	digits := header[i+len(key):]
	end := 0
	for end < len(digits) && digits[end] >= '0' && digits[end] <= '9' {
		end++
	}
	id, err := strconv.ParseUint(string(digits[:end]), 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, true
}
