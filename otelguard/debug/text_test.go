package debug_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/debug"
)

// siteLine matches a group's first line: count @ function file:line.
var siteLine = regexp.MustCompile(`^(\d+) @ (\S+) (\S+\.go):(\d+)$`)

func TestWriteTextGroupsBySite(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 3)
	a := openNamed(tr, "cache.a")
	b := openNamed(tr, "cache.b")
	a2 := openNamed(tr, "cache.a")
	g := otelguard.NewGuard(context.Background(), "tx.rollback", noopCleanup, otelguard.WithTracker(tr))
	s := otelguard.NewScope(context.Background(), "job", otelguard.WithTracker(tr))
	closed := openConns(tr, 1) // same site as conns, closed before the view
	closeAll(t, closed...)

	var buf strings.Builder
	if err := debug.WriteText(&buf, tr); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	t.Logf("\n%s", text)
	ls := lines(text)

	if want := "otelguard live lifetimes: 8 open, 0 releasing, 0 reported, 0 leaked"; ls[0] != want {
		t.Errorf("line 1 = %q, want %q", ls[0], want)
	}
	if want := "by kind: guard 1, resource 6, scope 1"; ls[1] != want {
		t.Errorf("line 2 = %q, want %q", ls[1], want)
	}
	if ls[2] != "" {
		t.Errorf("line 3 = %q, want a blank line", ls[2])
	}

	type group struct {
		count    string
		function string
		names    string
	}
	var got []group
	for i := 3; i < len(ls); i++ {
		m := siteLine.FindStringSubmatch(ls[i])
		if m == nil {
			continue
		}
		if !strings.HasSuffix(m[3], "_test.go") {
			t.Errorf("site %q: file %q is not a test file", ls[i], m[3])
		}
		got = append(got, group{count: m[1], function: m[2], names: ls[i+1]})
		ages := ls[i+2]
		checkAges(t, ages)
	}
	want := []group{
		{"3", thisPkg + "openConns", "\tnames: \"db.conn\" (resource) 3"},
		{"3", thisPkg + "openNamed", "\tnames: \"cache.a\" (resource) 2, \"cache.b\" (resource) 1"},
		// Two sites in this function: one line each, in line order.
		{"1", thisPkg + "TestWriteTextGroupsBySite", "\tnames: \"tx.rollback\" (guard) 1"},
		{"1", thisPkg + "TestWriteTextGroupsBySite", "\tnames: \"job\" (scope) 1"},
	}
	// Groups of one size are in site order: openConns < openNamed.
	if len(got) != len(want) {
		t.Fatalf("got %d groups %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("group %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if strings.Contains(text, "states:") {
		t.Errorf("a states line with every lifetime just open:\n%s", text)
	}

	closeAll(t, conns...)
	closeAll(t, a, b, a2)
	g.Disarm()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := debug.WriteText(&buf, tr); err != nil {
		t.Fatal(err)
	}
	if want := "otelguard live lifetimes: 0 open, 0 releasing, 0 reported, 0 leaked\nby kind: none\n"; buf.String() != want {
		t.Errorf("after closing everything:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// checkAges parses an ages line and checks oldest >= median >= newest.
func checkAges(t *testing.T, line string) {
	t.Helper()
	var o, m, n string
	rest, ok := strings.CutPrefix(line, "\tages: oldest ")
	if ok {
		o, rest, ok = strings.Cut(rest, ", median ")
	}
	if ok {
		m, n, ok = strings.Cut(rest, ", newest ")
	}
	if !ok {
		t.Errorf("ages line %q", line)
		return
	}
	var ds [3]time.Duration
	for i, s := range []string{o, m, n} {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > time.Hour {
			t.Errorf("ages line %q: age %q: %v", line, s, err)
			return
		}
		ds[i] = d
	}
	if ds[0] < ds[1] || ds[1] < ds[2] {
		t.Errorf("ages line %q: not oldest >= median >= newest", line)
	}
}

func TestWriteTextStates(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 2)
	unblock, wait := openSlow(t, tr)
	defer wait()
	defer close(unblock)

	var buf strings.Builder
	if err := debug.WriteText(&buf, tr); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if want := "otelguard live lifetimes: 3 open, 1 releasing, 0 reported, 0 leaked\n"; !strings.HasPrefix(text, want) {
		t.Errorf("releasing: got\n%s\nwant first line %q", text, want)
	}
	if !strings.Contains(text, "@ "+thisPkg+"openSlow ") || !strings.Contains(text, "\tstates: releasing 1\n") {
		t.Errorf("releasing: no openSlow group with its state:\n%s", text)
	}

	// Shutdown reports the lifetimes open and not releasing; they stay
	// open until released.
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := debug.WriteText(&buf, tr); err != nil {
		t.Fatal(err)
	}
	text = buf.String()
	if want := "otelguard live lifetimes: 3 open, 1 releasing, 2 reported, 0 leaked\n"; !strings.HasPrefix(text, want) {
		t.Errorf("after Shutdown: got\n%s\nwant first line %q", text, want)
	}
	if !strings.Contains(text, "\tstates: reported 2\n") {
		t.Errorf("after Shutdown: no reported state in the openConns group:\n%s", text)
	}
	closeAll(t, conns...)
}

func TestWriteTextWithoutStacks(t *testing.T) {
	for _, opt := range []otelguard.Option{
		otelguard.WithStackDepth(-1),
		otelguard.WithLeakSampling(-1),
		otelguard.WithStackDepth(-1),
	} {
		tr := newTracker(t, opt)
		conns := openConns(tr, 2)
		var buf strings.Builder
		if err := debug.WriteText(&buf, tr); err != nil {
			t.Fatal(err)
		}
		if want := "\n2 @ (no acquire stack)\n\tnames: \"db.conn\" (resource) 2\n"; !strings.Contains(buf.String(), want) {
			t.Errorf("got\n%s\nwant it to contain\n%s", buf.String(), want)
		}
		closeAll(t, conns...)
	}
}

func TestWriteLifetimes(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 1)
	g := otelguard.NewGuard(context.Background(), "tx.rollback", noopCleanup, otelguard.WithTracker(tr))
	//otelguard:handoff the guard only puts a lifetime in the live view; its cleanup is not meant to run
	defer g.Disarm()

	var buf strings.Builder
	if err := debug.WriteLifetimes(&buf, tr); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	t.Logf("\n%s", text)
	blocks := strings.Split(text, "\n\n")
	if len(blocks) != 3 {
		t.Fatalf("want totals and 2 lifetimes, got %d blocks:\n%s", len(blocks), text)
	}
	head := regexp.MustCompile(`^resource "db.conn" \[open, age \S+, acquired \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]:\n` +
		regexp.QuoteMeta(thisPkg+"openConns(...)") + "\n\t\\S*/helpers_test.go:\\d+ \\+0x[0-9a-f]+\n")
	if !head.MatchString(blocks[1]) {
		t.Errorf("first lifetime (oldest first):\n%s", blocks[1])
	}
	if !strings.HasPrefix(blocks[2], `guard "tx.rollback" [open, age `) ||
		!strings.Contains(blocks[2], thisPkg+"TestWriteLifetimes(...)\n") {
		t.Errorf("second lifetime:\n%s", blocks[2])
	}
	closeAll(t, conns...)
}
