package debug

import (
	"bytes"
	"cmp"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
)

// noStackSite is the acquire site of lifetimes whose Tracker captured no
// stack.
const noStackSite = "(no acquire stack)"

// WriteText writes the open lifetimes of t as text, grouped by acquire
// site (the function, file and line that acquired them), the form served
// at ?debug=1. A nil t is otelguard.Default().
//
// The first line gives the totals: how many lifetimes are open, and how
// many of them are releasing, reported (by Shutdown, or by leak detection
// while CloseOnCancel still waits to release them) and leaked (each count
// reads the LiveLifetime flag of that name, so a lifetime can count in
// more than one). The second gives the count by kind. Then one block per
// acquire site, the most lifetimes first (ties in site order):
//
//	3 @ main.openConns /src/app/main.go:42
//		names: "db.conn" (resource) 3
//		ages: oldest 1m2s, median 30.5s, newest 1.003s
//		states: releasing 1
//
// The states line is left out when every lifetime of the site is just
// open. Lifetimes of a Tracker that captures no stacks share the site
// "(no acquire stack)". Ages are measured at one instant, after the
// lifetimes are read; a median of an even count is the older of the two
// middle ages.
//
// WriteText returns the error of the one Write it makes to w.
func WriteText(w io.Writer, t *otelguard.Tracker) error {
	v := snapshot(t, true)
	var b bytes.Buffer
	writeHeader(&b, v.entries)
	for _, g := range groupBySite(v, newSymbolizer()) {
		b.WriteByte('\n')
		g.write(&b)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteLifetimes writes every open lifetime of t, oldest first, with its
// acquire stack in the format of a Go traceback, the form served at
// ?debug=2. A nil t is otelguard.Default(). After the two lines of totals
// that WriteText writes, each lifetime is a block such as:
//
//	resource "db.conn" [releasing, age 1m2.003s, acquired 2026-01-02T15:04:05.123Z]:
//	main.openConns(...)
//		/src/app/main.go:42 +0x1d
//	main.main(...)
//		/src/app/main.go:17 +0x25
//
// The stack is LiveLifetime.Stack; a Tracker that captures no
// stacks gives the line "(no acquire stack)". The state is the State the
// profile labels the lifetime with.
//
// WriteLifetimes returns the error of the one Write it makes to w.
func WriteLifetimes(w io.Writer, t *otelguard.Tracker) error {
	v := snapshot(t, false) // it prints LiveLifetime.Stack, rendered by the core
	var b bytes.Buffer
	writeHeader(&b, v.entries)
	for i := range v.entries {
		e := &v.entries[i]
		b.WriteByte('\n')
		b.WriteString(string(e.live.Kind))
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.live.Name))
		b.WriteString(" [")
		b.WriteString(string(e.state))
		b.WriteString(", age ")
		b.WriteString(formatAge(e.age))
		b.WriteString(", acquired ")
		b.WriteString(e.live.AcquiredAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		b.WriteString("]:\n")
		if s := e.live.Stack; s != "" {
			b.WriteString(s)
		} else {
			b.WriteString(noStackSite + "\n")
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeHeader writes the totals and the count by kind.
func writeHeader(b *bytes.Buffer, es []entry) {
	var releasing, reported, leaked int
	kinds := make(map[otelguard.Kind]int)
	for i := range es {
		l := es[i].live
		kinds[l.Kind]++
		if l.Releasing {
			releasing++
		}
		if l.Reported {
			reported++
		}
		if l.Leaked {
			leaked++
		}
	}
	b.WriteString("otelguard live lifetimes: ")
	b.WriteString(strconv.Itoa(len(es)))
	b.WriteString(" open, ")
	b.WriteString(strconv.Itoa(releasing))
	b.WriteString(" releasing, ")
	b.WriteString(strconv.Itoa(reported))
	b.WriteString(" reported, ")
	b.WriteString(strconv.Itoa(leaked))
	b.WriteString(" leaked\n")
	b.WriteString("by kind:")
	if len(kinds) == 0 {
		b.WriteString(" none")
	}
	for i, k := range sortedKinds(kinds) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(string(k))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(kinds[k]))
	}
	b.WriteByte('\n')
}

// kindOrder is the order kinds are listed in; a kind the core adds later
// follows them, by name.
var kindOrder = map[otelguard.Kind]int{
	otelguard.KindGuard:    1,
	otelguard.KindResource: 2,
	otelguard.KindScope:    3,
}

func sortedKinds(m map[otelguard.Kind]int) []otelguard.Kind {
	ks := make([]otelguard.Kind, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b otelguard.Kind) int {
		oa, ob := kindOrder[a], kindOrder[b]
		if oa == 0 {
			oa = len(kindOrder) + 1
		}
		if ob == 0 {
			ob = len(kindOrder) + 1
		}
		return cmp.Or(cmp.Compare(oa, ob), cmp.Compare(a, b))
	})
	return ks
}

// siteGroup is the open lifetimes acquired at one site.
type siteGroup struct {
	site   string
	ages   []time.Duration
	names  []nameCount
	flags  [3]int // releasing, reported, leaked
	byName map[nameKey]int
}

type nameKey struct {
	name string
	kind otelguard.Kind
}

type nameCount struct {
	nameKey
	n int
}

// groupBySite groups es by acquire site, the largest group first, ties in
// site order.
func groupBySite(v *view, sym *symbolizer) []*siteGroup {
	bySite := make(map[string]*siteGroup)
	sites := make([]string, len(v.stacks)) // by stack index
	for i, pcs := range v.stacks {
		sites[i] = sym.site(pcs)
	}
	var groups []*siteGroup
	for i := range v.entries {
		e := &v.entries[i]
		site := noStackSite
		if e.stack >= 0 {
			site = sites[e.stack]
		}
		g := bySite[site]
		if g == nil {
			g = &siteGroup{site: site, byName: make(map[nameKey]int)}
			bySite[site] = g
			groups = append(groups, g)
		}
		g.ages = append(g.ages, e.age)
		g.byName[nameKey{e.live.Name, e.live.Kind}]++
		if e.live.Releasing {
			g.flags[0]++
		}
		if e.live.Reported {
			g.flags[1]++
		}
		if e.live.Leaked {
			g.flags[2]++
		}
	}
	for _, g := range groups {
		for k, n := range g.byName {
			g.names = append(g.names, nameCount{k, n})
		}
		slices.SortFunc(g.names, func(a, b nameCount) int { // a total order: keys are distinct
			return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name), cmp.Compare(a.kind, b.kind))
		})
		slices.Sort(g.ages)
	}
	slices.SortFunc(groups, func(a, b *siteGroup) int {
		return cmp.Or(cmp.Compare(len(b.ages), len(a.ages)), cmp.Compare(a.site, b.site))
	})
	return groups
}

func (g *siteGroup) write(b *bytes.Buffer) {
	b.WriteString(strconv.Itoa(len(g.ages)))
	b.WriteString(" @ ")
	b.WriteString(g.site)
	b.WriteString("\n\tnames:")
	for i, n := range g.names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(n.name))
		b.WriteString(" (")
		b.WriteString(string(n.kind))
		b.WriteString(") ")
		b.WriteString(strconv.Itoa(n.n))
	}
	// ages is sorted youngest first.
	b.WriteString("\n\tages: oldest ")
	b.WriteString(formatAge(g.ages[len(g.ages)-1]))
	b.WriteString(", median ")
	b.WriteString(formatAge(g.ages[len(g.ages)/2]))
	b.WriteString(", newest ")
	b.WriteString(formatAge(g.ages[0]))
	b.WriteByte('\n')
	if g.flags != [3]int{} {
		b.WriteString("\tstates:")
		sep := " "
		for i, label := range [...]string{"releasing", "reported", "leaked"} {
			if g.flags[i] > 0 {
				b.WriteString(sep)
				b.WriteString(label)
				b.WriteByte(' ')
				b.WriteString(strconv.Itoa(g.flags[i]))
				sep = ", "
			}
		}
		b.WriteByte('\n')
	}
}

// formatAge rounds an age to a precision a person reads: microseconds
// below a second, milliseconds below a minute, seconds above.
func formatAge(d time.Duration) string {
	switch {
	case d >= time.Minute:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(time.Millisecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}
