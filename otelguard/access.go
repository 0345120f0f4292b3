package otelguard

import (
	"cmp"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// accessRecordsKept is how many Touch points a lifetime keeps.
const accessRecordsKept = 8

// accessRing keeps the last accessRecordsKept Touch points of a lifetime
// without a lock: a Touch takes a sequence number and stores its record in
// the slot it names.
type accessRing struct {
	n     atomic.Uint64
	slots [accessRecordsKept]atomic.Pointer[accessRecord]
}

type accessRecord struct {
	seq  uint64
	hint string
	pc   uintptr
}

// touch records an access point. It is called only at
// LeakDetectionParanoid, where begin gave every lifetime its extra.
func (l *lifetime) touch(hint string, pc uintptr) {
	x := l.x
	if x == nil {
		return
	}
	r := x.access.Load()
	if r == nil {
		r = &accessRing{}
		if !x.access.CompareAndSwap(nil, r) {
			r = x.access.Load()
		}
	}
	seq := r.n.Add(1) - 1
	r.slots[seq%accessRecordsKept].Store(&accessRecord{seq: seq, hint: hint, pc: pc})
}

// accessRecords renders the kept Touch points, oldest first, as
// "hint @ function file:line" (the form of otelguard.access_records).
func (l *lifetime) accessRecords() []string {
	return renderAccess(l.touches())
}

// touches returns the kept Touch points, oldest first.
func (l *lifetime) touches() []AccessRecord {
	x := l.x
	if x == nil {
		return nil
	}
	r := x.access.Load()
	if r == nil {
		return nil
	}
	recs := make([]*accessRecord, 0, accessRecordsKept)
	for i := range r.slots {
		if a := r.slots[i].Load(); a != nil {
			recs = append(recs, a)
		}
	}
	slices.SortFunc(recs, func(a, b *accessRecord) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]AccessRecord, 0, len(recs))
	for _, a := range recs {
		f, _ := runtime.CallersFrames([]uintptr{a.pc}).Next()
		out = append(out, AccessRecord{Hint: a.hint, Function: f.Function, File: trimPath(f.File, l.t.cfg.trim), Line: f.Line})
	}
	return out
}

// An AccessRecord is one point where Resource.Touch was called
// (LeakDetectionParanoid): the hint it was given and the calling code.
type AccessRecord struct {
	Hint     string
	Function string
	File     string
	Line     int
}

// String renders the record as "hint @ function file:line".
func (a AccessRecord) String() string {
	return a.Hint + " @ " + a.Function + " " + a.File + ":" + strconv.Itoa(a.Line)
}

func renderAccess(recs []AccessRecord) []string {
	if len(recs) == 0 {
		return nil
	}
	out := make([]string, len(recs))
	for i, a := range recs {
		out[i] = a.String()
	}
	return out
}

// Touch records an access point of the resource: hint and the calling
// code, kept among the last eight and reported with a leak as
// otelguard.access_records (Netty's touch). It does something only at
// LeakDetectionParanoid; at the other levels it returns at once. Safe for
// concurrent use.
func (r *Resource[T]) Touch(hint string) {
	if r == nil || r.l == nil {
		return
	}
	l := r.l
	if l.t.cfg.leak != LeakDetectionParanoid {
		return
	}
	var pc [1]uintptr
	if runtime.Callers(2, pc[:]) == 1 {
		l.touch(hint, pc[0])
	}
}

// siteAttrs returns the acquire site of a stack (its first frame) as code
// attributes, symbolized once per interned stack.
func (s *stack) siteAttrs() []attribute.KeyValue {
	if s == nil || len(s.pcs) == 0 {
		return nil
	}
	if p := s.site.Load(); p != nil {
		return *p
	}
	f, _ := runtime.CallersFrames(s.pcs).Next()
	attrs := []attribute.KeyValue{
		semconv.CodeFunctionName(f.Function),
		semconv.CodeFilePath(f.File),
		semconv.CodeLineNumber(f.Line),
	}
	s.site.Store(&attrs)
	return attrs
}
