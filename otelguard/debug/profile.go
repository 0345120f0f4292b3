package debug

import (
	"cmp"
	"io"
	"math"
	"runtime"
	"slices"

	"github.com/google/pprof/profile"
	"github.com/otelguard/otelguard-go/otelguard"
)

// Sample types and labels of the profile.
const (
	// SampleTypeLifetimes counts open lifetimes (unit "count"); it is the
	// profile's default sample type.
	SampleTypeLifetimes = "lifetimes"
	// SampleTypeAge sums the ages of open lifetimes (unit "nanoseconds"):
	// how long they have been open. A sum past math.MaxInt64 saturates.
	SampleTypeAge = "age"

	// LabelName is the sample label holding the lifetimes' name.
	LabelName = "otelguard.name"
	// LabelKind is the sample label holding their kind: guard, resource
	// or scope.
	LabelKind = "otelguard.kind"
	// LabelState is the sample label holding their State.
	LabelState = "otelguard.state"
)

// noStackFunction is the function of the synthetic location given to
// lifetimes without an acquire stack.
const noStackFunction = "otelguard: no acquire stack"

// docURL is where pprof's web view links the profile's documentation.
const docURL = "https://pkg.go.dev/github.com/otelguard/otelguard-go/otelguard/debug"

// WriteProfile writes the open lifetimes of t to w as a pprof profile:
// profile.proto, gzip-compressed, the form served by default. A nil t is
// otelguard.Default().
//
// The profile has one sample per distinct acquire stack, name, kind and
// State, with the values lifetimes/count (the default sample type) and
// age/nanoseconds (the sum of their ages), and the labels otelguard.name,
// otelguard.kind and otelguard.state. Samples come the most lifetimes
// first, ties in the acquire order of their oldest lifetime. Locations are
// built from the program counters captured at acquire, with their
// functions, files and lines; a call inlined into its caller is a line of
// the caller's location, innermost first, as runtime/pprof writes it. On
// systems with /proc/self/maps the profile carries the mappings of the
// executable text its locations fall in (file, range, offset and GNU build
// ID, as runtime/pprof reads them); elsewhere one mapping for the
// executable stands for them all. Mappings whose every location was
// symbolized say so (HasFunctions and the rest), so pprof looks nothing
// up.
//
// WriteProfile returns an error if the profile cannot be encoded, or the
// error of writing to w.
func WriteProfile(w io.Writer, t *otelguard.Tracker) error {
	return buildProfile(t).Write(w)
}

// buildProfile makes the profile of t's open lifetimes.
func buildProfile(t *otelguard.Tracker) *profile.Profile {
	v := snapshot(t, true)
	b := &profileBuilder{
		v: v,
		p: &profile.Profile{
			SampleType: []*profile.ValueType{
				{Type: SampleTypeLifetimes, Unit: "count"},
				{Type: SampleTypeAge, Unit: "nanoseconds"},
			},
			DefaultSampleType: SampleTypeLifetimes,
			PeriodType:        &profile.ValueType{Type: SampleTypeLifetimes, Unit: "count"},
			Period:            1,
			TimeNanos:         v.now.UnixNano(),
			Comments:          []string{"otelguard: lifetimes open at the time of the profile, by acquire stack"},
			DocURL:            docURL,
		},
		sym:     newSymbolizer(),
		samples: make(map[sampleKey]*sampleAcc),
		locs:    make(map[string]*profile.Location),
		funcs:   make(map[funcKey]*profile.Function),
		maps:    &mappings{},
		byStack: make(map[int][]*profile.Location),
	}
	if len(v.stacks) > 0 { // without stacks no location needs a mapping
		b.maps = readMappings()
	}
	for i := range v.entries {
		b.add(&v.entries[i])
	}
	b.finish()
	return b.p
}

type profileBuilder struct {
	v       *view
	p       *profile.Profile
	sym     *symbolizer
	samples map[sampleKey]*sampleAcc
	order   []*sampleAcc
	locs    map[string]*profile.Location // by the PCs that make the location
	funcs   map[funcKey]*profile.Function
	maps    *mappings
	noStack *profile.Location
	byStack map[int][]*profile.Location // samples of one stack share its locations

	// scratch for locationsOf
	deck       []uintptr
	deckFrames []runtime.Frame
	key        []byte
}

type sampleKey struct {
	stack int // index into view.stacks, -1 for none
	name  string
	kind  otelguard.Kind
	state State
}

type sampleAcc struct {
	s     *profile.Sample
	first int // index of the first (oldest) lifetime, for ordering
}

type funcKey struct {
	name, file string
}

// add counts one lifetime into its sample.
func (b *profileBuilder) add(e *entry) {
	k := sampleKey{
		stack: e.stack,
		name:  e.live.Name,
		kind:  e.live.Kind,
		state: e.state,
	}
	acc := b.samples[k]
	if acc == nil {
		acc = &sampleAcc{
			s: &profile.Sample{
				Location: b.stackLocations(e),
				Value:    []int64{0, 0},
				Label: map[string][]string{
					LabelName:  {e.live.Name},
					LabelKind:  {string(e.live.Kind)},
					LabelState: {string(e.state)},
				},
			},
			first: len(b.order),
		}
		b.samples[k] = acc
		b.order = append(b.order, acc)
	}
	acc.s.Value[0]++
	acc.s.Value[1] = addSaturating(acc.s.Value[1], int64(e.age))
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// stackLocations returns the locations of e's acquire stack.
func (b *profileBuilder) stackLocations(e *entry) []*profile.Location {
	if locs, ok := b.byStack[e.stack]; ok {
		return locs
	}
	locs := b.locationsOf(b.v.stackOf(e))
	b.byStack[e.stack] = locs
	return locs
}

// locationsOf turns a stack of return PCs, as runtime.Callers gives it,
// into locations, leaf first. runtime.Callers reports a call inlined into
// its caller at a PC of its own; such PCs are gathered, as runtime/pprof
// gathers them, into one location whose lines run from the innermost
// inlined call out to the function that holds the code. runtime.goexit is
// left out.
func (b *profileBuilder) locationsOf(pcs []uintptr) []*profile.Location {
	if len(pcs) == 0 {
		return []*profile.Location{b.noStackLocation()}
	}
	var locs []*profile.Location
	b.deck, b.deckFrames = b.deck[:0], b.deckFrames[:0]
	flush := func() {
		if len(b.deck) > 0 {
			locs = append(locs, b.location())
			b.deck, b.deckFrames = b.deck[:0], b.deckFrames[:0]
		}
	}
	for _, pc := range pcs {
		fs := b.sym.expand(pc)
		if len(fs) == 0 { // runtime.goexit
			flush()
			continue
		}
		if len(b.deckFrames) > 0 && !inlinedInto(b.deckFrames[len(b.deckFrames)-1], fs[0]) {
			flush()
		}
		b.deck = append(b.deck, pc)
		b.deckFrames = append(b.deckFrames, fs...)
	}
	flush()
	return locs
}

// inlinedInto reports whether last, the outermost frame gathered so far,
// was inlined into next: last is an inlined frame (no Func) whose code
// lives in the same physical function as next, and next is not a
// recursive call of the same function. This is runtime/pprof's test.
func inlinedInto(last, next runtime.Frame) bool {
	return last.Func == nil &&
		last.Entry != 0 && next.Entry != 0 &&
		last.Entry == next.Entry &&
		last.Function != next.Function
}

// location returns the location of the PCs gathered in the deck, making
// it the first time.
func (b *profileBuilder) location() *profile.Location {
	b.key = pcBytes(b.key[:0], b.deck)
	if l := b.locs[string(b.key)]; l != nil {
		return l
	}
	l := &profile.Location{
		ID:      uint64(len(b.p.Location) + 1),
		Address: uint64(b.deckFrames[0].PC),
	}
	symbolized := true
	for _, f := range b.deckFrames {
		if f.Function == "" || f.File == "" || f.Line == 0 {
			symbolized = false
		}
		l.Line = append(l.Line, profile.Line{Function: b.function(f), Line: int64(f.Line)})
	}
	l.Mapping = b.maps.of(b.p, uintptr(l.Address), symbolized)
	b.locs[string(b.key)] = l
	b.p.Location = append(b.p.Location, l)
	return l
}

// function returns the profile function of a frame.
func (b *profileBuilder) function(f runtime.Frame) *profile.Function {
	name := f.Function
	if name == "" {
		name = "?"
	}
	k := funcKey{name, f.File}
	if fn := b.funcs[k]; fn != nil {
		return fn
	}
	fn := &profile.Function{
		ID:         uint64(len(b.p.Function) + 1),
		Name:       name,
		SystemName: name,
		Filename:   f.File,
	}
	b.funcs[k] = fn
	b.p.Function = append(b.p.Function, fn)
	return fn
}

// noStackLocation is the one synthetic location of lifetimes without an
// acquire stack.
func (b *profileBuilder) noStackLocation() *profile.Location {
	if b.noStack == nil {
		fn := &profile.Function{
			ID:         uint64(len(b.p.Function) + 1),
			Name:       noStackFunction,
			SystemName: noStackFunction,
		}
		b.p.Function = append(b.p.Function, fn)
		b.noStack = &profile.Location{
			ID:   uint64(len(b.p.Location) + 1),
			Line: []profile.Line{{Function: fn}},
		}
		b.p.Location = append(b.p.Location, b.noStack)
	}
	return b.noStack
}

// finish orders the samples and sets the mappings' flags.
func (b *profileBuilder) finish() {
	slices.SortFunc(b.order, func(x, y *sampleAcc) int { // first is unique: a total order
		return cmp.Or(cmp.Compare(y.s.Value[0], x.s.Value[0]), cmp.Compare(x.first, y.first))
	})
	b.p.Sample = make([]*profile.Sample, len(b.order))
	for i, acc := range b.order {
		b.p.Sample[i] = acc.s
	}
	b.maps.finish(b.p)
}
