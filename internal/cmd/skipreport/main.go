// Command skipreport makes a skipped test impossible to miss: make test
// runs go test with -json, and skipreport shows what ran as go test would
// without -json while it keeps the JSON, then lists every skipped test with
// its reason at the end.
//
// As a filter, with -o, it reads go test -json from standard input, copies
// it to the file, and prints what go test prints without -json: each
// package's ok or FAIL line, the output of the tests that fail, build
// errors, benchmark results, and whatever a test binary printed outside its
// tests. A test
// binary that dies (a -timeout panic, a crash) has its running tests'
// output printed, their names in it:
//
//	go test -json -race ./... | skipreport -o .test-output/unit.json
//
// With pipefail, the pipeline's status is go test's: skipreport exits 0
// unless it cannot write.
//
// Given files, it prints the summary: every test (or benchmark, or
// subtest) that skipped, by package, with the runs it skipped in (the
// files' names) and the message it gave t.Skip, in the order the files
// and their tests ran:
//
//	skipreport .test-output/*.json
//
// Lines of the input that are not JSON (a go command's message) are
// copied to the file, and printed, as they are.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	out := flag.String("o", "", "filter: copy go test -json from stdin to `file`, print it as go test prints")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go test -json ... | skipreport -o file.json\n       skipreport file.json...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "skipreport:", err)
		os.Exit(1)
	}
}

func run(out string, files []string) error {
	if out != "" {
		if len(files) > 0 {
			return errors.New("-o reads standard input: give no files")
		}
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		err = filter(os.Stdin, f, os.Stdout)
		return errors.Join(err, f.Close())
	}
	if len(files) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var skips []skip
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		s, err := skipsIn(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		run := strings.TrimSuffix(filepath.Base(name), ".json")
		for i := range s {
			s[i].runs = []string{run}
		}
		skips = merge(append(skips, s...))
	}
	report(os.Stdout, skips)
	return nil
}

// merge folds the skips of one test with one reason in several runs (make
// test runs the unit tests on two Go versions) into the first, its runs
// the runs of all.
func merge(skips []skip) []skip {
	type key struct{ pkg, test, reason string }
	first := map[key]int{}
	var out []skip
	for _, s := range skips {
		k := key{s.pkg, s.test, s.reason}
		if i, ok := first[k]; ok {
			out[i].runs = append(out[i].runs, s.runs...)
			continue
		}
		first[k] = len(out)
		out = append(out, s)
	}
	return out
}

// event is a line of go test -json (cmd/test2json, and the go command's
// build events).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	// ImportPath is set on build-output events instead of Package.
	ImportPath string
}

// maxLine bounds one line of input: a test's output line can be long (a
// goroutine dump is many lines, each its own event), 64 MiB is far past it.
const maxLine = 64 << 20

// lines calls f with each line of r, without its newline, and the event it
// holds (ok false when it is not a JSON event).
func lines(r io.Reader, f func(line []byte, e event, ok bool) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		var e event
		err := json.Unmarshal(sc.Bytes(), &e)
		if err := f(sc.Bytes(), e, err == nil && e.Action != ""); err != nil {
			return err
		}
	}
	return sc.Err()
}

// filter copies r to raw, and prints to w what go test prints without
// -json: see the package doc.
func filter(r io.Reader, raw, w io.Writer) error {
	bw := bufio.NewWriter(raw)
	// held is the output of each running test, by package and name, shown
	// only if it fails; order is the order they started, to flush the
	// unfinished ones of a package that died in the order they ran.
	held := map[[2]string]*strings.Builder{}
	var order [][2]string
	midResult := map[[2]string]bool{}
	printf := func(s string) error {
		_, err := io.WriteString(w, s)
		return err
	}
	err := lines(r, func(line []byte, e event, ok bool) error {
		bw.Write(line)
		bw.WriteByte('\n')
		if !ok {
			return printf(string(line) + "\n")
		}
		key := [2]string{e.Package, e.Test}
		switch {
		case e.Action == "build-output":
			return printf(e.Output)
		case e.Test != "" && e.Action == "output" && (midResult[key] || isResult(e)):
			// A benchmark's result, which go test prints as it comes (a
			// benchmark has no pass event to wait for), in two pieces:
			// the name, then the figures and a newline.
			midResult[key] = !strings.HasSuffix(e.Output, "\n")
			return printf(e.Output)
		case e.Test != "" && e.Action == "output":
			b := held[key]
			if b == nil {
				b = &strings.Builder{}
				held[key] = b
				order = append(order, key)
			}
			if !isProgress(e.Output) {
				b.WriteString(e.Output)
			}
		case e.Test != "" && (e.Action == "pass" || e.Action == "skip" || e.Action == "fail"):
			if b := held[key]; b != nil && e.Action == "fail" {
				if err := printf(b.String()); err != nil {
					return err
				}
			}
			delete(held, key)
		case e.Test == "" && e.Action == "output":
			if e.Output == "PASS\n" { // go test without -v drops it
				return nil
			}
			if strings.HasPrefix(e.Output, "FAIL") {
				// The package failed. Tests still running now never end:
				// the binary died (a timeout's panic, a crash, os.Exit),
				// and their output, printed first, names them.
				for _, k := range order {
					if b := held[k]; b != nil && k[0] == e.Package {
						if err := printf(b.String()); err != nil {
							return err
						}
						delete(held, k)
					}
				}
			}
			return printf(e.Output)
		}
		return nil
	})
	return errors.Join(err, bw.Flush())
}

// isResult tells the first piece of a benchmark's result line: its name
// with a -GOMAXPROCS suffix and padding, as opposed to the line of its
// name alone that go test -json prints when it starts.
func isResult(e event) bool {
	return strings.HasPrefix(e.Test, "Benchmark") && strings.HasPrefix(e.Output, e.Test) && e.Output != e.Test+"\n"
}

// isProgress tells a line that go test -v prints and go test does not:
// === RUN, === PAUSE, === CONT, === NAME.
func isProgress(s string) bool {
	return strings.HasPrefix(s, "=== ")
}

// A skip is a test that skipped, and why.
type skip struct {
	pkg, test string
	reason    string   // the test's output bar the progress and SKIP lines; "" if it said nothing
	runs      []string // the go test runs (the files, without .json) it skipped in
}

// skipsIn returns the tests of r (go test -json) that skipped.
func skipsIn(r io.Reader) ([]skip, error) {
	said := map[[2]string]*strings.Builder{}
	var skips []skip
	err := lines(r, func(_ []byte, e event, ok bool) error {
		if !ok || e.Test == "" {
			return nil
		}
		key := [2]string{e.Package, e.Test}
		switch e.Action {
		case "output":
			if isProgress(e.Output) || strings.HasPrefix(e.Output, "--- ") ||
				e.Output == e.Test+"\n" { // a benchmark's name line
				return nil
			}
			b := said[key]
			if b == nil {
				b = &strings.Builder{}
				said[key] = b
			}
			b.WriteString(e.Output)
		case "skip":
			s := skip{pkg: e.Package, test: e.Test}
			if b := said[key]; b != nil {
				s.reason = reason(b.String())
			}
			skips = append(skips, s)
			delete(said, key)
		case "pass", "fail":
			delete(said, key)
		}
		return nil
	})
	return skips, err
}

// reason is what a skipped test printed, which ends with its t.Skip
// message: the lines as the test printed them (file:line: message, the
// following lines indented), trimmed of the common indentation.
func reason(out string) string {
	var ls []string
	for l := range strings.Lines(strings.TrimRight(out, "\n")) {
		ls = append(ls, strings.TrimSuffix(strings.TrimPrefix(l, "    "), "\n"))
	}
	return strings.Join(ls, "\n")
}

// maxReason bounds the lines of a reason: the last ones, where t.Skip's
// message is, after what the test logged before it.
const maxReason = 6

// report prints the summary of skips to w, grouped by package in the
// order the packages first skipped.
func report(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "skipped tests: none")
		return
	}
	var pkgs []string
	by := map[string][]skip{}
	for _, s := range skips {
		if by[s.pkg] == nil {
			pkgs = append(pkgs, s.pkg)
		}
		by[s.pkg] = append(by[s.pkg], s)
	}
	fmt.Fprintf(w, "skipped tests: %d, in %d packages\n", len(skips), len(pkgs))
	for _, p := range pkgs {
		fmt.Fprintln(w, p)
		for _, s := range by[p] {
			r := strings.Split(s.reason, "\n")
			switch {
			case s.reason == "":
				r = []string{"(no reason given)"}
			case len(r) > maxReason:
				r = append([]string{"..."}, r[len(r)-maxReason:]...)
			}
			runs := ""
			if len(s.runs) > 0 {
				runs = " [" + strings.Join(s.runs, ", ") + "]"
			}
			fmt.Fprintf(w, "  SKIP %s%s: %s\n", s.test, runs, strings.Join(r, "\n      "))
		}
	}
}
