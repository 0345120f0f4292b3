package guardpgx

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// pgx calls a tracer from inside its own code, so the frames above a
// tracer method tell where the call comes from: a Conn.Query (rows that
// stay open until closed) or a Conn.Exec (nothing held once it returns);
// a Pool.Acquire of the user's own (a checkout the user holds, db.conn) or
// one that pgxpool makes inside Pool.Query, Pool.Exec, Pool.Begin, … (the
// rows, transaction or batch that follows holds it). Each program counter
// is classified once per process, by its function's name; nothing is
// guessed beyond what the names say.

// Import paths whose frames lead the acquire stack of every lifetime and
// are skipped, so that it starts at the user's call.
const (
	pkgPath         = "github.com/otelguard/otelguard-go/integrations/guardpgx"
	pgxPath         = "github.com/jackc/pgx/v5"
	pgxpoolPath     = "github.com/jackc/pgx/v5/pgxpool"
	multitracerPath = "github.com/jackc/pgx/v5/multitracer"
)

// internalPkgs are the packages skipped at the top of every acquire stack.
var internalPkgs = []string{pkgPath, pgxPath, pgxpoolPath, multitracerPath}

// Frame classes.
const (
	fInternal   uint8 = 1 << iota // one of internalPkgs: skipped
	fConnQuery                    // pgx.(*Conn).Query
	fConnExec                     // pgx.(*Conn).Exec
	fPoolAcq                      // pgxpool.(*Pool).Acquire or AcquireFunc: the caller's checkout
	fPoolMethod                   // another method of pgxpool.(*Pool): a checkout of pgxpool's own
)

// classes caches the class of each program counter seen.
var classes sync.Map // uintptr -> uint8

// classOf returns the class of the frame whose program counter pc
// runtime.Callers returned (one per logical frame, inlined calls
// included).
func classOf(pc uintptr) uint8 {
	if c, ok := classes.Load(pc); ok {
		return c.(uint8)
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	c := classify(f.Function)
	classes.Store(pc, c)
	return c
}

// classify returns the class of the function named fn.
func classify(fn string) uint8 {
	pkg := pkgOf(fn)
	var c uint8
	for _, p := range internalPkgs {
		if pkg == p {
			c = fInternal
		}
	}
	switch {
	case fn == pgxPath+".(*Conn).Query":
		c |= fConnQuery
	case fn == pgxPath+".(*Conn).Exec":
		c |= fConnExec
	case fn == pgxpoolPath+".(*Pool).Acquire" || fn == pgxpoolPath+".(*Pool).AcquireFunc":
		c |= fPoolAcq
	case strings.HasPrefix(fn, pgxpoolPath+".(*Pool)."):
		c |= fPoolMethod
	}
	return c
}

// pkgOf returns the import path of the function named fn.
func pkgOf(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// queryPeekDepth frames above TraceQueryStart reach pgx's Conn.Query or
// Conn.Exec in the common chains: pgx itself, or multitracer's then pgx.
// queryWalkDepth frames reach them through a tracer or two of the user's
// that delegate. runtime.Callers unwinds as many frames as it is given
// room for, and the walk is most of a query's cost here: the short one
// comes first.
const (
	queryPeekDepth = 3
	queryWalkDepth = 8
)

// calledByQuery reports whether TraceQueryStart (its caller) was called
// by pgx's Conn.Query rather than Conn.Exec: only a Query leaves rows open.
func calledByQuery() bool {
	var buf [queryWalkDepth]uintptr
	n := runtime.Callers(3, buf[:queryPeekDepth])
	if q, found := scanQuery(buf[:n]); found || n < queryPeekDepth {
		return q
	}
	n = runtime.Callers(3, buf[:])
	q, _ := scanQuery(buf[:n])
	return q
}

// scanQuery looks for pgx's Conn.Query or Conn.Exec among pcs.
func scanQuery(pcs []uintptr) (query, found bool) {
	for _, pc := range pcs {
		c := classOf(pc)
		switch {
		case c&fConnQuery != 0:
			return true, true
		case c&fConnExec != 0:
			return false, true
		}
	}
	return false, false
}

// stackDepth is how many frames a checkout keeps of its acquire stack,
// past the internal ones (at most maxSkipped) that lead it.
const (
	stackDepth = 32
	maxSkipped = 16
)

// A pcStack is an acquire stack as runtime.Callers returned it, internal
// frames included; it is symbolized only when reported.
type pcStack struct {
	pcs [stackDepth + maxSkipped]uintptr
	n   int
}

// capture records the stack of its caller's caller.
func (s *pcStack) capture() { s.n = runtime.Callers(3, s.pcs[:]) }

// user returns the frames from the first one outside the internal
// packages and those in skip, and whether the outermost internal frame
// before them (the call into pgx) has class want.
func (s *pcStack) user(skip []string, want uint8) (pcs []uintptr, led bool) {
	i := 0
	var last uint8
	for i < s.n && i < maxSkipped {
		c := classOf(s.pcs[i])
		if c&fInternal == 0 && !inPkgs(s.pcs[i], skip) {
			break
		}
		if c&fInternal != 0 {
			last = c
		}
		i++
	}
	return s.pcs[i:s.n], last&want != 0
}

func inPkgs(pc uintptr, pkgs []string) bool {
	if len(pkgs) == 0 {
		return false
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	pkg := pkgOf(f.Function)
	for _, p := range pkgs {
		if pkg == p {
			return true
		}
	}
	return false
}

// formatStack renders pcs as a Go traceback does (without arguments and
// offsets): "pkg.Func(...)\n\t/file.go:12\n" per frame.
func formatStack(b *strings.Builder, pcs []uintptr) {
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function != "" {
			b.WriteString(f.Function)
			b.WriteString("(...)\n\t")
			b.WriteString(f.File)
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(f.Line))
			b.WriteByte('\n')
		}
		if !more {
			return
		}
	}
}
