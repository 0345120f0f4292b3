// Command benchratio prints paired ratios of benchmark results: for every
// benchmark family with sub-benchmarks named impl=X, the ratio of each
// implementation's figure to the family's baseline, run by run, with their
// spread over the runs (geometric mean, median, min and max). The baseline
// is the implementation named impl=baseline where the family has one (the
// pair benchmarks of make bench-pairs, whose two sides run in either
// order), else the family's first implementation in the input.
//
// With -target T it also prints, for each row, the target (≤ T×), whether
// it is met (judged on the geometric mean, as docs/PERFORMANCE.md judges
// every target) and how many runs' ratios exceed it:
//
//	go run ./internal/cmd/benchratio -target 1.10 .bench/pairs.txt
//
// make bench measures in runs: a run is one process of the benchmark binary
// (or, for benchmarks that need a process each, one process per
// implementation, the processes of a run started one after the other). The
// samples of one run were taken seconds apart, so their ratio cancels most
// of a noisy VM's drift, which benchstat's unpaired comparison of medians
// cannot. It reads `go test -bench` output:
//
//	go run ./internal/cmd/benchratio .bench/bench.txt
//	go run ./internal/cmd/benchratio -unit peak-heap-MiB .bench/shutdown.txt
//
// A run starts at a `run: ID` line (make bench writes one before each run;
// benchstat reads it as a configuration key, hence its `-ignore run`), or,
// in input without such lines, at each `goos:` header, which a benchmark
// binary prints once per process.
//
// Samples are paired by run, never by position in the file: every run that
// measured a family must hold as many samples of each of its
// implementations as of the baseline, or benchratio pairs nothing and says
// which run lacks what. A run that failed (a `--- FAIL` or `FAIL` line, a
// panic) is refused too: its samples cannot be trusted, and a benchmark's
// b.Fatal is a check that failed.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	unit := flag.String("unit", "ns/op", "the figure to pair (ns/op, B/op, or any unit the benchmarks report)")
	target := flag.Float64("target", 0, "if > 0, the ratio each row must not exceed: print it, whether the geometric mean meets it, and the runs beyond it")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchratio [-unit UNIT] [-target RATIO] FILE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	defer f.Close()
	rows, err := ratios(f, flag.Arg(0), *unit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	if *target < 0 || math.IsNaN(*target) || math.IsInf(*target, 0) {
		fmt.Fprintln(os.Stderr, "benchratio: -target must be a positive ratio")
		os.Exit(2)
	}
	if err := write(os.Stdout, rows, *target); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// row is the paired ratios of one implementation to its family's baseline.
type row struct {
	family, impl, base string
	ratios             []float64 // in run order
}

func (r row) geomean() float64 {
	s := 0.0
	for _, x := range r.ratios {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(r.ratios)))
}

func (r row) median() float64 {
	s := slices.Sorted(slices.Values(r.ratios))
	n := len(s)
	if n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[n/2]
}

// over is how many of r's ratios exceed target.
func (r row) over(target float64) int {
	n := 0
	for _, x := range r.ratios {
		if x > target {
			n++
		}
	}
	return n
}

// write prints one line per row: its ratios' geometric mean, median, min
// and max; with target > 0, also the target, whether the geometric mean
// meets it ("yes" or "MISSED") and how many runs' ratios exceed it.
func write(w io.Writer, rows []row, target float64) error {
	fw := 20
	for _, r := range rows {
		fw = max(fw, len(r.family))
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-*s %-36s %3s %8s %8s %8s %8s", fw, "family", "impl / baseline", "n", "geomean", "median", "min", "max")
	if target > 0 {
		fmt.Fprintf(bw, " %8s %6s %s", "target", "met", "runs over")
	}
	fmt.Fprintln(bw)
	for _, r := range rows {
		g := r.geomean()
		fmt.Fprintf(bw, "%-*s %-36s %3d %8.3f %8.3f %8.3f %8.3f", fw, r.family, r.impl+" / "+r.base, len(r.ratios),
			g, r.median(), slices.Min(r.ratios), slices.Max(r.ratios))
		if target > 0 {
			met := "yes"
			if g > target {
				met = "MISSED"
			}
			fmt.Fprintf(bw, " %8s %6s %d/%d", fmt.Sprintf("≤%.2f", target), met, r.over(target), len(r.ratios))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// benchLine is a result line: name, iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark(\S+)\s+\d+\s+(.+)$`)

// procs is the -GOMAXPROCS suffix go test appends to a benchmark's name.
var procs = regexp.MustCompile(`-\d+$`)

// family is the samples of one benchmark family: impl → run → samples.
type family struct {
	name  string
	impls []string // in order of first appearance; the baseline first (see baselineFirst)
	runs  []string // in order of first appearance
	data  map[string]map[string][]float64
}

// ratios reads benchmark output and pairs each family's implementations
// with its baseline, run by run, on the figure in unit.
func ratios(r io.Reader, file, unit string) ([]row, error) {
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(text), "\n")
	labelled := slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "run:") })

	var fams []*family
	byName := map[string]*family{}
	run, headers := "", 0
	var errs []error
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "run:"):
			run = strings.TrimSpace(strings.TrimPrefix(l, "run:"))
			continue
		case !labelled && strings.HasPrefix(l, "goos:"):
			headers++
			run = "#" + strconv.Itoa(headers)
			continue
		case l == "FAIL" || strings.HasPrefix(l, "--- FAIL") || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "panic: "):
			errs = append(errs, fmt.Errorf("%s:%d: run %s failed (%q): its samples cannot be trusted; fix the failure and measure again", file, i+1, runName(run), l))
			continue
		}
		m := benchLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		fam, impl, ok := splitImpl(procs.ReplaceAllString(m[1], ""))
		if !ok {
			continue
		}
		v, found, err := value(m[2], unit)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", file, i+1, err))
			continue
		}
		if !found {
			continue
		}
		f := byName[fam]
		if f == nil {
			f = &family{name: fam, data: map[string]map[string][]float64{}}
			byName[fam] = f
			fams = append(fams, f)
		}
		if f.data[impl] == nil {
			f.impls = append(f.impls, impl)
			f.data[impl] = map[string][]float64{}
		}
		if !slices.Contains(f.runs, run) {
			f.runs = append(f.runs, run)
		}
		f.data[impl][run] = append(f.data[impl][run], v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var rows []row
	for _, f := range fams {
		f.baselineFirst()
		base := f.impls[0]
		for _, run := range f.runs {
			nb := len(f.data[base][run])
			for _, impl := range f.impls[1:] {
				if n := len(f.data[impl][run]); n != nb {
					errs = append(errs, fmt.Errorf("%s: run %s has %d %s of impl=%s but %d of impl=%s (the baseline): refusing to pair unequal counts",
						f.name, runName(run), n, samples(n), impl, nb, base))
				}
			}
		}
		for _, impl := range f.impls[1:] {
			rw := row{family: f.name, impl: impl, base: base}
			for _, run := range f.runs {
				bs, cs := f.data[base][run], f.data[impl][run]
				for j := range min(len(bs), len(cs)) {
					if bs[j] == 0 {
						errs = append(errs, fmt.Errorf("%s: run %s: impl=%s measured 0 %s: no ratio to it", f.name, runName(run), base, unit))
						continue
					}
					rw.ratios = append(rw.ratios, cs[j]/bs[j])
				}
			}
			if len(rw.ratios) > 0 {
				rows = append(rows, rw)
			}
		}
		if len(f.impls) == 1 {
			errs = append(errs, fmt.Errorf("%s: only impl=%s was measured: nothing to pair it with", f.name, base))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no sub-benchmark named impl=… reports %s", file, unit)
	}
	return rows, nil
}

// baselineImpl is the name that makes an implementation its family's
// baseline wherever it appears in the input.
const baselineImpl = "baseline"

// baselineFirst moves impl=baseline, where f has it, to the front of
// f.impls: the pair benchmarks run their two sides in either order, so
// the first to appear is not always the baseline. Other families keep
// their first implementation as the baseline.
func (f *family) baselineFirst() {
	if i := slices.Index(f.impls, baselineImpl); i > 0 {
		f.impls = slices.Insert(slices.Delete(f.impls, i, i+1), 0, baselineImpl)
	}
}

// splitImpl takes the impl=X element out of a benchmark's name: family is
// the rest of the name.
func splitImpl(name string) (family, impl string, ok bool) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if v, found := strings.CutPrefix(p, "impl="); found {
			return strings.Join(slices.Delete(parts, i, i+1), "/"), v, true
		}
	}
	return "", "", false
}

// value finds the figure in unit among a result line's value-unit pairs.
func value(pairs, unit string) (float64, bool, error) {
	f := strings.Fields(pairs)
	for i := 0; i+1 < len(f); i += 2 {
		if f[i+1] == unit {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return 0, false, fmt.Errorf("bad %s value %q", unit, f[i])
			}
			return v, true, nil
		}
	}
	return 0, false, nil
}

func runName(run string) string {
	if run == "" {
		return "(before any run: line)"
	}
	return run
}

func samples(n int) string {
	if n == 1 {
		return "sample"
	}
	return "samples"
}
