package debug_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/otelguard/otelguard-go/internal/bridge"
	"github.com/otelguard/otelguard-go/otelguard"
	"github.com/otelguard/otelguard-go/otelguard/debug"
)

// readProfile writes the profile of tr and parses it back.
func readProfile(t *testing.T, tr *otelguard.Tracker) *profile.Profile {
	t.Helper()
	var buf bytes.Buffer
	if err := debug.WriteProfile(&buf, tr); err != nil {
		t.Fatal(err)
	}
	if b := buf.Bytes(); len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile is not gzip-compressed: % x", b[:min(len(b), 8)])
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatal(err)
	}
	return p
}

// leafFunction is the innermost function of a sample.
func leafFunction(s *profile.Sample) string {
	if len(s.Location) == 0 || len(s.Location[0].Line) == 0 {
		return ""
	}
	return s.Location[0].Line[0].Function.Name
}

// sampleAt returns the only sample whose innermost function is fn.
func sampleAt(t *testing.T, p *profile.Profile, fn string) *profile.Sample {
	t.Helper()
	var found []*profile.Sample
	for _, s := range p.Sample {
		if leafFunction(s) == fn {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want 1 sample acquired in %s, got %d in\n%v", fn, len(found), p)
	}
	return found[0]
}

// functions is the function names of a sample's stack, innermost first,
// inlined frames included.
func functions(s *profile.Sample) []string {
	var out []string
	for _, l := range s.Location {
		for _, ln := range l.Line {
			out = append(out, ln.Function.Name)
		}
	}
	return out
}

// framesOf is the function names runtime.CallersFrames gives for pcs,
// without runtime.goexit.
func framesOf(pcs []uintptr) []string {
	var out []string
	fs := runtime.CallersFrames(pcs)
	for {
		f, more := fs.Next()
		if f.Function != "runtime.goexit" {
			out = append(out, f.Function)
		}
		if !more {
			return out
		}
	}
}

func TestWriteProfile(t *testing.T) {
	start := time.Now()
	tr := newTracker(t)
	conns := openConns(tr, 3)
	other := openNamed(tr, "cache.entry")
	p := readProfile(t, tr)
	elapsed := time.Since(start)

	if len(p.SampleType) != 2 ||
		p.SampleType[0].Type != "lifetimes" || p.SampleType[0].Unit != "count" ||
		p.SampleType[1].Type != "age" || p.SampleType[1].Unit != "nanoseconds" {
		t.Errorf("sample types %v %v", p.SampleType[0], p.SampleType[1])
	}
	if p.DefaultSampleType != "lifetimes" {
		t.Errorf("default sample type %q", p.DefaultSampleType)
	}
	if p.PeriodType == nil || p.PeriodType.Type != "lifetimes" || p.Period != 1 {
		t.Errorf("period %v %d", p.PeriodType, p.Period)
	}
	if d := time.Since(time.Unix(0, p.TimeNanos)); d < 0 || d > elapsed+time.Second {
		t.Errorf("TimeNanos %d is not now", p.TimeNanos)
	}
	if len(p.Sample) != 2 {
		t.Fatalf("want 2 samples (identical stacks aggregated), got %d:\n%v", len(p.Sample), p)
	}

	s := sampleAt(t, p, thisPkg+"openConns")
	if p.Sample[0] != s {
		t.Errorf("the largest sample is not first")
	}
	if s.Value[0] != 3 {
		t.Errorf("openConns: %d lifetimes, want 3", s.Value[0])
	}
	if s.Value[1] <= 0 || s.Value[1] > 3*int64(elapsed) {
		t.Errorf("openConns: age sum %v, want in (0, 3*%v]", time.Duration(s.Value[1]), elapsed)
	}
	wantLabels := map[string][]string{
		debug.LabelName:  {"db.conn"},
		debug.LabelKind:  {"resource"},
		debug.LabelState: {"open"},
	}
	for k, v := range wantLabels {
		if !slices.Equal(s.Label[k], v) {
			t.Errorf("label %s = %q, want %q", k, s.Label[k], v)
		}
	}
	// The stack holds the test's own frames beneath the acquiring one.
	fns := functions(s)
	if len(fns) < 2 || fns[1] != thisPkg+"TestWriteProfile" {
		t.Errorf("openConns stack %q: the caller is not TestWriteProfile", fns)
	}
	if got := sampleAt(t, p, thisPkg+"openNamed"); got.Value[0] != 1 || got.Label[debug.LabelName][0] != "cache.entry" {
		t.Errorf("openNamed sample %v", got)
	}
	for _, fn := range p.Function {
		if fn.Name == thisPkg+"openConns" && !strings.HasSuffix(fn.Filename, "helpers_test.go") {
			t.Errorf("openConns is in %q", fn.Filename)
		}
	}
	closeAll(t, conns...)
	closeAll(t, other)

	if p := readProfile(t, tr); len(p.Sample) != 0 {
		t.Errorf("after closing: %d samples", len(p.Sample))
	}
}

// TestWriteProfileStacks checks that each sample's lines, read innermost
// first, are the frames runtime.CallersFrames gives for the captured PCs,
// and that a call inlined into its caller shares the caller's location.
func TestWriteProfileStacks(t *testing.T) {
	tr := newTracker(t)
	g := guardInline(tr) // inlined here
	//otelguard:handoff the guard only puts a lifetime in the live view; its cleanup is not meant to run
	defer g.Disarm()
	conns := openConns(tr, 1) // not inlined
	defer closeAll(t, conns...)

	live := tr.Live()
	p := readProfile(t, tr)
	if len(live) != len(p.Sample) {
		t.Fatalf("%d lifetimes, %d samples", len(live), len(p.Sample))
	}
	for _, l := range live {
		want := framesOf(bridge.LivePCs(l))
		s := sampleAt(t, p, want[0])
		if got := functions(s); !slices.Equal(got, want) {
			t.Errorf("%s: profile lines\n%q\nwant the frames\n%q", l.Name, got, want)
		}
	}

	s := sampleAt(t, p, thisPkg+"guardInline")
	first, _ := runtime.CallersFrames(bridge.LivePCs(live[0])).Next()
	if first.Func != nil {
		t.Skip("guardInline was not inlined in this build")
	}
	loc := s.Location[0]
	if len(loc.Line) < 2 || loc.Line[1].Function.Name != thisPkg+"TestWriteProfileStacks" {
		t.Errorf("inlined guardInline: location lines %v, want guardInline then its caller", loc.Line)
	}
}

func TestWriteProfileMappings(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 1)
	defer closeAll(t, conns...)
	p := readProfile(t, tr)
	if len(p.Mapping) == 0 {
		t.Fatal("no mapping")
	}
	for _, m := range p.Mapping {
		if !m.HasFunctions || !m.HasFilenames || !m.HasLineNumbers || !m.HasInlineFrames {
			t.Errorf("mapping %s is not marked symbolized: %+v", m.File, m)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	exe, _ = filepath.EvalSymlinks(exe)
	main := p.Mapping[0]
	if got, _ := filepath.EvalSymlinks(main.File); got != exe {
		t.Errorf("the first mapping is %q, want the executable %q", main.File, exe)
	}
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		return // one stand-in mapping
	}
	for _, l := range p.Location {
		if l.Mapping == nil {
			t.Errorf("location %#x has no mapping", l.Address)
			continue
		}
		if l.Address < l.Mapping.Start || l.Address >= l.Mapping.Limit {
			t.Errorf("location %#x is outside its mapping [%#x, %#x)", l.Address, l.Mapping.Start, l.Mapping.Limit)
		}
	}
}

func TestWriteProfileStates(t *testing.T) {
	tr := newTracker(t)
	conns := openConns(tr, 2)
	unblock, wait := openSlow(t, tr)
	defer wait()
	defer close(unblock)
	byState := func(p *profile.Profile) map[string]int64 {
		got := map[string]int64{}
		for _, s := range p.Sample {
			got[leafFunction(s)+" "+s.Label[debug.LabelState][0]] += s.Value[0]
		}
		return got
	}
	check := func(got, want map[string]int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("samples by state %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("samples by state %v, want %v", got, want)
				break
			}
		}
	}
	check(byState(readProfile(t, tr)), map[string]int64{
		thisPkg + "openConns open":     2,
		thisPkg + "openSlow releasing": 1,
	})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	check(byState(readProfile(t, tr)), map[string]int64{
		thisPkg + "openConns reported": 2,
		thisPkg + "openSlow releasing": 1,
	})
	closeAll(t, conns...)
}

func TestWriteProfileWithoutStacks(t *testing.T) {
	tr := newTracker(t, otelguard.WithStackDepth(-1))
	conns := openConns(tr, 2)
	defer closeAll(t, conns...)
	g := otelguard.NewGuard(context.Background(), "tx", noopCleanup, otelguard.WithTracker(tr))
	//otelguard:handoff the guard only puts a lifetime in the live view; its cleanup is not meant to run
	defer g.Disarm()
	p := readProfile(t, tr)
	if len(p.Sample) != 2 {
		t.Fatalf("want a sample per name and kind, got %v", p)
	}
	for _, s := range p.Sample {
		if got := functions(s); !slices.Equal(got, []string{"otelguard: no acquire stack"}) {
			t.Errorf("sample %v: stack %q", s.Label, got)
		}
	}
	if p.Sample[0].Value[0] != 2 || p.Sample[0].Label[debug.LabelName][0] != "db.conn" {
		t.Errorf("first sample %v %v", p.Sample[0].Value, p.Sample[0].Label)
	}
	if len(p.Location) != 1 || len(p.Function) != 1 {
		t.Errorf("want one synthetic location and function, got %d and %d", len(p.Location), len(p.Function))
	}
}

func TestWriteProfileEmpty(t *testing.T) {
	p := readProfile(t, newTracker(t))
	if len(p.Sample) != 0 || len(p.Location) != 0 || len(p.Mapping) != 0 {
		t.Errorf("empty tracker: %v", p)
	}
}
