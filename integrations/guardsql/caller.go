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
// Two things a driver method is not told, this package learns from the
// frames above it, using only what database/sql's public API fixes — never
// the name of an unexported function, which any Go release may change:
//
//   - the method of database/sql's API the user called: the frame of
//     package database/sql just below the first frame that is not
//     database/sql's nor this package's. It is an exported method, named
//     as in the documentation; only (*DB).Conn and the methods of
//     (*Conn) matter (a DB.Conn checkout, watched as db.conn);
//   - whether the call runs on a goroutine database/sql started itself
//     (the pool's opener, the goroutine that closes rows when their
//     context or transaction ends): then no frame of the user's is on
//     the stack, the first frame outside database/sql is the runtime's
//     (runtime.goexit).
//
// A statement database/sql prepares for one call is told without frames:
// database/sql prepares one exactly when the driver's ExecContext or
// QueryContext returned driver.ErrSkip (see conn.skipped).
//
// walkCaller classifies each program counter once per process (see
// classOf), up to the first frame outside database/sql and this package.

// Frame classes. fKnown marks a classified entry of the cache.
const (
	fKnown    uint16 = 1 << iota
	fInternal        // database/sql or this package: skipped
	fRuntime         // package runtime: the bottom of a goroutine's stack
	fDBConn          // database/sql.(*DB).Conn
	fSQLConn         // an exported method of database/sql.(*Conn)
)

// A site is what the frames above a driver method tell about who called
// database/sql.
type site uint8

const (
	siteUser    site = iota // the user's code, through a method other than below
	siteDBConn              // the user's code, through DB.Conn
	siteSQLConn             // the user's code, through a method of a *sql.Conn
	siteOwn                 // a goroutine of database/sql's own: no frame of the user's
	siteUnknown             // the walk did not reach a frame outside database/sql
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
		rest = strings.TrimSuffix(rest, "-fm") // a method value
		switch {
		case rest == "(*DB).Conn":
			c |= fDBConn
		case exportedMethod(rest, "(*Conn)."):
			c |= fSQLConn
		}
		return c
	}
	switch {
	case strings.HasPrefix(fn, pkgPrefix):
		c |= fInternal
	case strings.HasPrefix(fn, "runtime."):
		c |= fRuntime
	}
	return c
}

// exportedMethod reports whether fn is recv followed by an exported
// method's name, not a closure within it ("(*Conn).QueryContext", not
// "(*Conn).QueryContext.func1").
func exportedMethod(fn, recv string) bool {
	name, ok := strings.CutPrefix(fn, recv)
	return ok && name != "" && name[0] >= 'A' && name[0] <= 'Z' && !strings.Contains(name, ".")
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

// walkCaller returns the site of the frames above its caller (the driver
// method). runtime.Callers unwinds only as many frames as it is given
// room for, so the walk costs what the internal frames cost and little
// more.
func walkCaller() site {
	var buf [walkDepth]uintptr
	n := runtime.Callers(2, buf[:])
	s, done := scan(buf[:n])
	if done {
		return s
	}
	if n < len(buf) {
		return siteOwn // the whole stack is database/sql's
	}
	var deep [128]uintptr
	n = runtime.Callers(2, deep[:])
	if s, done = scan(deep[:n]); !done && n < len(deep) {
		return siteOwn
	}
	return s
}

// peekDepth frames above ResetSession reach the user's frame when the
// reset is DB.Conn's: ResetSession, (*driverConn).resetSession, (*DB).conn,
// (*DB).Conn.func1, (*DB).retry, (*DB).Conn, the user — with room to
// spare for a release that adds a frame or two.
const peekDepth = 10

// peekCaller is walkCaller for ResetSession, which database/sql calls at
// almost every checkout of a pooled connection: it unwinds only
// peekDepth frames, enough to see whether the checkout is DB.Conn's
// (siteUnknown when the user's frame is deeper: not DB.Conn's).
func peekCaller() site {
	var buf [peekDepth]uintptr
	n := runtime.Callers(2, buf[:])
	s, _ := scan(buf[:n])
	return s
}

// scan classifies pcs (pcs[0] is the walking method) up to the first
// frame outside database/sql and this package, and returns the site they
// tell; done is false if there is no such frame among them.
func scan(pcs []uintptr) (s site, done bool) {
	var last uint16 // the class of the frame below the current one
	for _, pc := range pcs {
		c := classOf(pc)
		if c&fInternal != 0 {
			last = c
			continue
		}
		switch {
		case c&fRuntime != 0:
			return siteOwn, true
		case last&fDBConn != 0:
			return siteDBConn, true
		case last&fSQLConn != 0:
			return siteSQLConn, true
		}
		return siteUser, true
	}
	return siteUnknown, false
}
