package main

import (
	"bytes"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The testdata files are output of the otelguard benchmark binary, as make
// bench writes it:
//
//   - three-runs.txt: three processes, each running BenchmarkNoop (three
//     impls), BenchmarkTouch (no impl) and BenchmarkLeakFound, each after a
//     `run: N` line.
//   - process-per-impl.txt: four runs of one process per implementation of
//     BenchmarkNoop, in the order make bench uses for ShutdownMillion
//     (baseline first in odd runs, last in even ones).
//   - failed-run.txt: one process in which BenchmarkLeakFound's b.Fatal
//     fired.
//   - pairs.txt: three runs of a pair benchmark as make bench-pairs writes
//     them (BenchmarkPair<Name>/metrics=<on|off>/impl=<baseline|guarded>),
//     the baseline first in runs 1 and 3 and last in run 2; made-up
//     figures, chosen so that metrics=on misses a 1.10 target on the
//     geometric mean with 2 of 3 runs over it, and metrics=off meets it
//     with 1 run over.

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// without drops the lines matching re that come after the line "run: N"
// (and before the next run line), or in the whole text if run is "".
func without(text, run, re string) string {
	rx := regexp.MustCompile(re)
	var out []string
	cur := ""
	for _, l := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(l, "run:") {
			cur = strings.TrimSpace(strings.TrimPrefix(l, "run:"))
		}
		if (run == "" || cur == run) && rx.MatchString(l) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func TestRatios(t *testing.T) {
	three := read(t, "three-runs.txt")
	perImpl := read(t, "process-per-impl.txt")
	failed := read(t, "failed-run.txt")
	pairs := read(t, "pairs.txt")

	type want struct {
		family, impl, base string
		ratios             []float64
	}
	noop := []want{
		{"Noop", "otelguard", "noopspan", []float64{539.8 / 586.2, 968.0 / 861.0, 719.7 / 750.4}},
		{"Noop", "defer", "noopspan", []float64{2.355 / 586.2, 5.176 / 861.0, 6.203 / 750.4}},
	}
	perImplRatios := []want{
		// Run 2 and 4 measured otelguard first: paired by run all the same.
		{"Noop", "otelguard", "noopspan", []float64{329.3 / 206.7, 351.1 / 298.8, 346.5 / 217.9, 346.4 / 227.0}},
	}
	for _, tc := range []struct {
		name    string
		input   string
		unit    string
		want    []want
		wantErr []string // each must appear in the error
	}{
		{name: "labelled runs", input: three, want: noop},
		{name: "another unit", input: three, unit: "B/op", want: []want{
			{"Noop", "otelguard", "noopspan", []float64{192.0 / 112, 192.0 / 112, 192.0 / 112}},
			{"Noop", "defer", "noopspan", []float64{0, 0, 0}},
		}},
		{name: "unlabelled: a run per process header", input: without(three, "", `^run:`), want: noop},
		{name: "a process per impl, paired by run label", input: perImpl, want: perImplRatios},
		{name: "pairs, either order", input: pairs, want: []want{
			{"PairSQLiteSelect/metrics=on", "guarded", "baseline", []float64{1.2, 1.09, 1.3}},
			{"PairSQLiteSelect/metrics=off", "guarded", "baseline", []float64{8400.0 / 8000, 9000.0 / 8000, 8600.0 / 8000}},
		}},
		{
			// Run 2, the guarded side first, is the first in the input:
			// impl=baseline is the baseline all the same.
			name:  "pairs, guarded first in the input",
			input: without(pairs, "1", ``),
			want: []want{
				{"PairSQLiteSelect/metrics=on", "guarded", "baseline", []float64{1.09, 1.3}},
				{"PairSQLiteSelect/metrics=off", "guarded", "baseline", []float64{9000.0 / 8000, 8600.0 / 8000}},
			},
		},
		{
			name:    "pairs, a side missing in a run",
			input:   without(pairs, "3", `metrics=off/impl=guarded`),
			wantErr: []string{"PairSQLiteSelect/metrics=off: run 3 has 0 samples of impl=guarded but 1 of impl=baseline (the baseline)"},
		},
		{
			name:    "pairs, only the guarded side",
			input:   without(pairs, "", `impl=baseline`),
			wantErr: []string{"PairSQLiteSelect/metrics=on: only impl=guarded was measured: nothing to pair it with"},
		},
		{
			name:  "missing sample",
			input: without(three, "2", `impl=otelguard`),
			wantErr: []string{
				"Noop: run 2 has 0 samples of impl=otelguard but 1 of impl=noopspan (the baseline): refusing to pair unequal counts",
			},
		},
		{
			name:    "missing sample, unlabelled",
			input:   without(without(three, "2", `impl=defer`), "", `^run:`),
			wantErr: []string{"Noop: run #2 has 0 samples of impl=defer but 1 of impl=noopspan"},
		},
		{
			name:    "missing baseline sample",
			input:   without(three, "3", `impl=noopspan`),
			wantErr: []string{"Noop: run 3 has 1 sample of impl=otelguard but 0 of impl=noopspan", "Noop: run 3 has 1 sample of impl=defer but 0 of impl=noopspan"},
		},
		{
			name:    "missing process of a run",
			input:   without(perImpl, "3", `impl=otelguard`),
			wantErr: []string{"Noop: run 3 has 0 samples of impl=otelguard but 1 of impl=noopspan"},
		},
		{
			name:    "extra sample in a run",
			input:   strings.Replace(three, "run: 3\n", "run: 3\nBenchmarkNoop/impl=otelguard-2   20000   700.0 ns/op\n", 1),
			wantErr: []string{"Noop: run 3 has 2 samples of impl=otelguard but 1 of impl=noopspan"},
		},
		{
			name:    "a process per impl without run labels",
			input:   without(perImpl, "", `^run:`),
			wantErr: []string{"Noop: run #1 has 0 samples of impl=otelguard", "Noop: run #2 has 1 sample of impl=otelguard but 0 of impl=noopspan"},
		},
		{
			name:    "failed run",
			input:   three + "run: 4\n" + failed,
			wantErr: []string{`run 4 failed ("--- FAIL: BenchmarkLeakFound")`, `run 4 failed ("FAIL")`, "its samples cannot be trusted"},
		},
		{
			name:    "failed run, unlabelled",
			input:   failed,
			wantErr: []string{`bench.txt:8: run #1 failed ("--- FAIL: BenchmarkLeakFound")`},
		},
		{
			name:    "panicked run",
			input:   three + "run: 4\ngoos: linux\npanic: runtime error: index out of range [3] with length 3\n",
			wantErr: []string{`run 4 failed ("panic: runtime error`},
		},
		{
			name:    "only the baseline",
			input:   without(perImpl, "", `impl=otelguard`),
			wantErr: []string{"Noop: only impl=noopspan was measured: nothing to pair it with"},
		},
		{
			name:    "zero baseline",
			input:   three,
			unit:    "allocs/op",
			wantErr: nil, // defer allocates nothing, but it is the candidate: its ratio is 0
			want: []want{
				{"Noop", "otelguard", "noopspan", []float64{0.5, 0.5, 0.5}},
				{"Noop", "defer", "noopspan", []float64{0, 0, 0}},
			},
		},
		{
			name:    "zero baseline refused",
			input:   strings.ReplaceAll(three, "112 B/op", "0 B/op"),
			unit:    "B/op",
			wantErr: []string{"Noop: run 1: impl=noopspan measured 0 B/op: no ratio to it"},
		},
		{
			name:    "no such unit",
			input:   three,
			unit:    "widgets/op",
			wantErr: []string{"bench.txt: no sub-benchmark named impl=… reports widgets/op"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := tc.unit
			if unit == "" {
				unit = "ns/op"
			}
			rows, err := ratios(strings.NewReader(tc.input), "bench.txt", unit)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error; rows %v", rows)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.want) {
				t.Fatalf("%d rows, want %d: %v", len(rows), len(tc.want), rows)
			}
			for i, w := range tc.want {
				r := rows[i]
				if r.family != w.family || r.impl != w.impl || r.base != w.base {
					t.Errorf("row %d is %s %s/%s, want %s %s/%s", i, r.family, r.impl, r.base, w.family, w.impl, w.base)
				}
				if len(r.ratios) != len(w.ratios) {
					t.Fatalf("row %d: ratios %v, want %v", i, r.ratios, w.ratios)
				}
				for j := range w.ratios {
					if math.Abs(r.ratios[j]-w.ratios[j]) > 1e-12 {
						t.Errorf("row %d: ratios %v, want %v", i, r.ratios, w.ratios)
						break
					}
				}
			}
		})
	}
}

func TestRowStatistics(t *testing.T) {
	for _, tc := range []struct {
		ratios          []float64
		geomean, median float64
	}{
		{[]float64{2}, 2, 2},
		{[]float64{1, 4}, 2, 2.5},
		{[]float64{4, 1, 2}, 2, 2},
		{[]float64{8, 1, 2, 0.5}, math.Pow(8, 0.25), 1.5},
	} {
		r := row{ratios: tc.ratios}
		if g := r.geomean(); math.Abs(g-tc.geomean) > 1e-12 {
			t.Errorf("geomean of %v = %v, want %v", tc.ratios, g, tc.geomean)
		}
		if m := r.median(); m != tc.median {
			t.Errorf("median of %v = %v, want %v", tc.ratios, m, tc.median)
		}
	}
}

func TestWrite(t *testing.T) {
	rows, err := ratios(strings.NewReader(read(t, "process-per-impl.txt")), "x", "ns/op")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := write(&out, rows, 0); err != nil {
		t.Fatal(err)
	}
	// geomean of 329.3/206.7, 351.1/298.8, 346.5/217.9, 346.4/227.0;
	// median the mean of the middle two; min and max.
	want := "family               impl / baseline                        n  geomean   median      min      max\n" +
		"Noop                 otelguard / noopspan                   4    1.460    1.558    1.175    1.593\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestWriteTarget(t *testing.T) {
	rows, err := ratios(strings.NewReader(read(t, "pairs.txt")), "x", "ns/op")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := write(&out, rows, 1.10); err != nil {
		t.Fatal(err)
	}
	// metrics=on: 1.2, 1.09, 1.3: geomean 1.1936, over 1.10 in runs 1 and
	// 3; metrics=off: 1.05, 1.125, 1.075: geomean 1.0829, run 2 over. The
	// family column widens to the longest family.
	want := "family                       impl / baseline                        n  geomean   median      min      max   target    met runs over\n" +
		"PairSQLiteSelect/metrics=on  guarded / baseline                     3    1.194    1.200    1.090    1.300    ≤1.10 MISSED 2/3\n" +
		"PairSQLiteSelect/metrics=off guarded / baseline                     3    1.083    1.075    1.050    1.125    ≤1.10    yes 1/3\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestRowOver(t *testing.T) {
	r := row{ratios: []float64{1.0, 1.1, 1.2, 0.9, 1.5}}
	for _, tc := range []struct {
		target float64
		want   int
	}{{1.1, 2}, {1.0, 3}, {2, 0}, {0.5, 5}} {
		if got := r.over(tc.target); got != tc.want {
			t.Errorf("over(%v) of %v = %d, want %d", tc.target, r.ratios, got, tc.want)
		}
	}
}
