package guardsql

import (
	"runtime"
	"strings"
	"sync/atomic"
)

// The acquire stack of a lifetime this package starts must begin at the
// user's call (db.QueryContext, tx.Commit's caller, …), not inside
// database/sql or this package. The core captures it once, dropping the
// leading frames of both packages (otelguard.WithCallerSkipPackages), so
// no walk is needed for that.
//
// The frames between a driver method and the user's call also tell where
// in database/sql the call comes from: a DB.Conn checkout, a method of a
// *sql.Conn, the pool's opener goroutine, Rows.awaitDone, a statement
// prepared for one call. Where that matters — a connection's first call
// after it was returned to the pool (or opened), a Prepare, the close of
// rows read in a transaction — walk classifies them, each program counter
// once per process (see classOf), up to the first frame outside
// database/sql and this package. Only what those frames show is used;
// nothing else is guessed.

// Frame classes. fKnown marks a classified entry of the cache.
const (
	fKnown     uint16 = 1 << iota
	fInternal         // database/sql or this package: skipped
	fDBConn           // database/sql.(*DB).Conn and its closures: a DB.Conn checkout
	fSQLConn          // a method of database/sql.(*Conn): a call on a checked-out *sql.Conn
	fOpener           // the pool's opener goroutine opens a connection for a waiter
	fRowsAwait        // database/sql.(*Rows).awaitDone: closing rows because a context ended
	fOneShot          // (*DB).queryDC or (*DB).execDC: a statement prepared for one call
)

// pkgPrefix is this package's function-name prefix. Its tests live in
// package guardsql_test, whose functions ("...guardsql_test.") it does not
// match, so their frames count as the user's.
const pkgPrefix = pkgPath + "."

// pkgPath is this package's import path.
const pkgPath = "github.com/otelguard/otelguard-go/integrations/guardsql"

// classify returns the class of the function named fn.
func classify(fn string) uint16 {
	c := fKnown
	if rest, ok := strings.CutPrefix(fn, "database/sql."); ok {
		c |= fInternal
		switch {
		case rest == "(*DB).Conn" || strings.HasPrefix(rest, "(*DB).Conn."):
			c |= fDBConn
		case strings.HasPrefix(rest, "(*Conn)."):
			c |= fSQLConn
		case strings.HasPrefix(rest, "(*DB).connectionOpener") || strings.HasPrefix(rest, "(*DB).openNewConnection"):
			c |= fOpener
		case strings.HasPrefix(rest, "(*Rows).awaitDone"):
			c |= fRowsAwait
		case strings.HasPrefix(rest, "(*DB).queryDC") || strings.HasPrefix(rest, "(*DB).execDC"):
			c |= fOneShot
		}
		return c
	}
	if strings.HasPrefix(fn, pkgPrefix) {
		c |= fInternal
	}
	return c
}

// The class cache: open addressing over a fixed array of words, each a
// program counter shifted left 16 bits with its class in the low bits.
// A word, once written, never changes, so a lookup is a few atomic loads.
// A program counter of 48 bits or more (none on amd64 or arm64 user
// space) or a full probe sequence is classified without being cached.
const (
	classTableBits  = 12
	classTableSize  = 1 << classTableBits
	classTableProbe = 8
)

var classTable [classTableSize]atomic.Uint64

// classOf returns the class of the frame whose program counter pc
// runtime.Callers returned. runtime.Callers returns one program counter
// per logical frame (an inlined call included), and the first frame
// runtime.CallersFrames expands from such a counter alone is that frame.
func classOf(pc uintptr) uint16 {
	cacheable := uint64(pc) < 1<<48
	h := uint64(pc) * 0x9e3779b97f4a7c15
	i := h >> (64 - classTableBits)
	if cacheable {
		for range classTableProbe {
			w := classTable[i].Load()
			if w == 0 {
				break
			}
			if w>>16 == uint64(pc) {
				return uint16(w)
			}
			i = (i + 1) & (classTableSize - 1)
		}
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	c := classify(f.Function)
	if cacheable {
		w := uint64(pc)<<16 | uint64(c)
		i = h >> (64 - classTableBits)
		for range classTableProbe {
			if classTable[i].CompareAndSwap(0, w) || classTable[i].Load() == w {
				break
			}
			i = (i + 1) & (classTableSize - 1)
		}
	}
	return c
}

// walkDepth frames are walked at first; deeper internal chains (none in
// database/sql as of Go 1.26: the deepest, a prepared statement's query
// in a transaction, is about a dozen frames) take a second, longer walk.
const walkDepth = 16

// walkCaller returns the classes of the frames above its caller (the
// driver method), up to the first frame outside database/sql and this
// package. runtime.Callers unwinds only as many frames as it is given
// room for, so the walk costs what the internal frames cost and little
// more.
func walkCaller() (seen uint16) {
	var buf [walkDepth]uintptr
	n := runtime.Callers(2, buf[:])
	seen, done := scan(buf[:n])
	if done || n < len(buf) {
		return seen
	}
	var deep [128]uintptr
	n = runtime.Callers(2, deep[:])
	seen, _ = scan(deep[:n])
	return seen
}

// peekDepth frames above ResetSession reach DB.Conn when the reset is
// DB.Conn's: ResetSession, (*driverConn).resetSession, (*DB).conn,
// (*DB).Conn.func1, (*DB).retry, (*DB).Conn, the user.
const peekDepth = 8

// peekCaller is walkCaller for ResetSession, which database/sql calls at
// almost every checkout of a pooled connection: it unwinds only
// peekDepth frames, enough to see whether the checkout is DB.Conn's.
func peekCaller() (seen uint16) {
	var buf [peekDepth]uintptr
	n := runtime.Callers(2, buf[:])
	seen, _ = scan(buf[:n])
	return seen
}

// scan classifies pcs (pcs[0] is the walking method) up to the first
// external frame, and returns the classes of the frames before it; done is
// false if there is no external frame among them.
func scan(pcs []uintptr) (seen uint16, done bool) {
	for _, pc := range pcs {
		c := classOf(pc)
		if c&fInternal == 0 {
			return seen, true
		}
		seen |= c
	}
	return seen, false
}
