package guardpgx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/puddle/v2"
	"github.com/otelguard/otelguard-go/internal/stacklog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// FindingSpanName is the name of every finding span.
const FindingSpanName = "otelguard.finding"

// maxStackGroups bounds the acquire stacks a finding renders: holders
// with the same stack share one entry (a leak in a loop is one line of
// code however many connections it holds); past maxStackGroups distinct
// stacks, the rest are counted, not rendered. otelguard.holder.names and
// otelguard.holder.ages_ms list every holder, at most the pool's size.
const maxStackGroups = 16

// A holder is a checkout as a finding reports it.
type holder struct {
	name   string
	age    time.Duration
	pcs    []uintptr
	parent trace.SpanContext
}

// acquireFailed counts a timed-out acquire and reports a failed acquire
// as a pool_exhausted finding when the pool was exhausted: it is closed
// (puddle.ErrClosedPool), or the acquire's context ended (its deadline,
// or a cancel) while every connection the pool may open was checked out.
// A context that ends while a connection is still being opened (a slow
// server) is not exhaustion, and is only counted.
func (t *tracer) acquireFailed(ctx context.Context, a *acquire, at time.Time, err error) {
	var errType string
	switch {
	case errors.Is(err, puddle.ErrClosedPool):
		errType = "closed_pool"
	case errors.Is(err, context.DeadlineExceeded):
		errType = "timeout"
		t.meters.recordTimeout(ctx, a.ps)
	case errors.Is(err, context.Canceled):
		errType = "canceled"
	default:
		return // a connection could not be opened: not the pool's fault
	}
	ps := a.ps
	ps.mu.Lock()
	if errType != "closed_pool" && len(ps.holders) < ps.maxConns {
		ps.mu.Unlock()
		return
	}
	if iv := t.cfg.findingInterval(); iv > 0 && !ps.lastReport.IsZero() && at.Sub(ps.lastReport) < iv {
		ps.unreported++
		ps.mu.Unlock()
		return
	}
	repeats := ps.unreported
	ps.lastReport, ps.unreported = at, 0
	hs := make([]holder, 0, len(ps.holders))
	for co := range ps.holders {
		hs = append(hs, holder{name: co.name(), age: at.Sub(co.at), pcs: co.pcs, parent: co.parent})
	}
	ps.mu.Unlock()
	slices.SortFunc(hs, func(x, y holder) int { return int(y.age - x.age) }) // oldest first
	t.report(ctx, ps, hs, errType, at.Sub(a.start), repeats)
}

// report emits the finding: a root span of its own trace, with its
// attributes given at start so that a sampler sees them, linked to the
// span each holder's acquire ran under and to the failed acquire's; and a
// Warn record.
func (t *tracer) report(ctx context.Context, ps *poolState, hs []holder, errType string, waited time.Duration, repeats int64) {
	names := make([]string, len(hs))
	ages := make([]float64, len(hs))
	links := make([]trace.Link, 0, len(hs)+1)
	for i, h := range hs {
		names[i] = h.name
		ages[i] = ms(h.age)
		if h.parent.IsValid() {
			links = append(links, trace.Link{SpanContext: h.parent, Attributes: []attribute.KeyValue{
				linkKey.String("holder"), nameKey.String(h.name),
			}})
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{linkKey.String("waiter")}})
	}
	es, more := renderHolders(hs)
	stacks := stackText(es, more)
	attrs := []attribute.KeyValue{
		findingKey.String(FindingPoolExhausted),
		nameKey.String(ps.name),
		kindKey.String("resource"),
		semconv.DBClientConnectionPoolName(ps.name),
		semconv.DBSystemNamePostgreSQL,
		semconv.ErrorTypeKey.String(errType),
		holdersKey.Int(len(hs)),
		holderNamesKey.StringSlice(names),
		holderAgesKey.Float64Slice(ages),
		waitKey.Float64(ms(waited)),
		semconv.CodeStacktraceKey.String(stacks),
	}
	if repeats > 0 {
		attrs = append(attrs, repeatsKey.Int64(repeats))
	}
	msg := fmt.Sprintf("connection pool %s exhausted: %d of %d connections held (%s)", ps.name, len(hs), ps.maxConns, errType)
	_, span := t.finder.Start(context.Background(), FindingSpanName,
		trace.WithNewRoot(), trace.WithAttributes(attrs...), trace.WithLinks(links...))
	span.SetStatus(codes.Error, msg)
	span.End()

	la := []slog.Attr{
		slog.String(string(findingKey), FindingPoolExhausted),
		slog.String(string(nameKey), ps.name),
		slog.String(string(semconv.ErrorTypeKey), errType),
		slog.Int(string(holdersKey), len(hs)),
		slog.Duration("waited", waited),
	}
	if repeats > 0 {
		la = append(la, slog.Int64(string(repeatsKey), repeats))
	}
	for i, e := range es {
		la = append(la, slog.Group("holder."+strconv.Itoa(i),
			slog.String("name", e.name), slog.Duration("held", e.age), slog.Int("count", e.n),
			stacklog.Attr(string(semconv.CodeStacktraceKey), e.stack)))
	}
	if more > 0 {
		la = append(la, slog.Int("holders.not_shown", more))
	}
	t.cfg.log().LogAttrs(ctx, slog.LevelWarn, "otelguard: "+msg, la...)
}

// An entry is one holder, or holders with one acquire stack, as a finding
// renders them.
type entry struct {
	head  string // "holder 1 of 2: db.conn, held 1.502s"
	name  string
	age   time.Duration // the oldest's
	n     int
	stack string // Go traceback format
}

// renderHolders groups hs (oldest first) by acquire stack: a leak in a
// loop is one line of code however many connections it holds. Past
// maxStackGroups entries the rest are counted, in more.
func renderHolders(hs []holder) (es []entry, more int) {
	done := make([]bool, len(hs))
	left := len(hs)
	for i := range hs {
		if done[i] {
			continue
		}
		if len(es) == maxStackGroups {
			return es, left
		}
		n := 0
		for j := i; j < len(hs); j++ {
			if !done[j] && slices.Equal(hs[j].pcs, hs[i].pcs) {
				done[j] = true
				n++
			}
		}
		left -= n
		age := hs[i].age.Round(time.Millisecond)
		e := entry{name: hs[i].name, age: age, n: n}
		if n == 1 {
			e.head = fmt.Sprintf("holder %d of %d: %s, held %v", i+1, len(hs), hs[i].name, age)
		} else {
			e.head = fmt.Sprintf("%d of %d holders: %s, held up to %v", n, len(hs), hs[i].name, age)
		}
		var b strings.Builder
		formatStack(&b, hs[i].pcs)
		e.stack = b.String()
		es = append(es, e)
	}
	return es, 0
}

// stackText is code.stacktrace of a finding: each entry's head and stack,
// separated by an empty line:
//
//	holder 1 of 2: db.conn, held 1.502s, acquired at:
//	example.com/app.handler(...)
//		/src/app/app.go:42
//	...
//
//	holder 2 of 2: db.rows, held 1.2s, acquired at:
//	...
//
// Holders with one stack share an entry, "38 of 40 holders: db.rows,
// held up to 31s, acquired at:", named by the oldest.
func stackText(es []entry, more int) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.head)
		b.WriteString(", acquired at:\n")
		b.WriteString(e.stack)
	}
	if more > 0 {
		fmt.Fprintf(&b, "\nand %d more holders, with other stacks (otelguard.holder.names and otelguard.holder.ages_ms list every holder)\n", more)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
