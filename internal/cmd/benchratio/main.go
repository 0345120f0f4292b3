// Command benchratio prints paired ratios of benchmark results: for every
// benchmark family with sub-benchmarks named impl=X, the ratio of each
// implementation's ns/op to the family's first implementation (its
// baseline), sample by sample.
//
// make bench runs the benchmark binary once per sample, so the i-th sample
// of a baseline and the i-th of its candidate ran a second apart; their
// ratio cancels most of a noisy VM's drift, which benchstat's unpaired
// comparison of medians cannot. It reads `go test -bench` output:
//
//	go run ./internal/cmd/benchratio .bench/bench.txt
package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
)

var line = regexp.MustCompile(`^Benchmark([^/\s]+)/impl=(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchratio FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var families []string
	impls := map[string][]string{}
	samples := map[[2]string][]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fam, impl := m[1], m[2]
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if _, ok := impls[fam]; !ok {
			families = append(families, fam)
		}
		if !slices.Contains(impls[fam], impl) {
			impls[fam] = append(impls[fam], impl)
		}
		k := [2]string{fam, impl}
		samples[k] = append(samples[k], v)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%-20s %-24s %3s %8s %8s %8s %8s\n", "family", "impl / baseline", "n", "geomean", "median", "min", "max")
	for _, fam := range families {
		base := samples[[2]string{fam, impls[fam][0]}]
		for _, impl := range impls[fam][1:] {
			cand := samples[[2]string{fam, impl}]
			n := min(len(base), len(cand))
			if n == 0 {
				continue
			}
			rs := make([]float64, n)
			logSum := 0.0
			for i := range n {
				rs[i] = cand[i] / base[i]
				logSum += math.Log(rs[i])
			}
			slices.Sort(rs)
			median := rs[n/2]
			if n%2 == 0 {
				median = (rs[n/2-1] + rs[n/2]) / 2
			}
			fmt.Printf("%-20s %-24s %3d %8.3f %8.3f %8.3f %8.3f\n", fam, impl+" / "+impls[fam][0], n,
				math.Exp(logSum/float64(n)), median, rs[0], rs[n-1])
		}
	}
}
