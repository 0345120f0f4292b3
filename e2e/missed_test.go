package e2e

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serviceMissed is a missed close examples/service's stories make, once a
// round: the route, the lifetime's name, and the handler and method of
// the call that acquired it, whose line code.stacktrace must name.
type serviceMissed struct{ route, name, handler, call string }

// serviceMissedCloses are every missed close one round of the selftest
// makes: the leaks — /leak's rows, /quote?item=unicorn's Content-Length
// body, /catalog's chunked body — and what database/sql closed because the
// request's context ended — /lookup's rows, /transfer?fail=1's
// transaction.
var serviceMissedCloses = []serviceMissed{
	{"/leak", "db.rows", "handleLeak", "QueryContext"},
	{"/lookup", "db.rows", "handleLookup", "QueryContext"},
	{"/transfer", "db.tx", "handleTransfer", "BeginTx"},
	{"/quote", "http.response.body", "handleQuote", "Do"},
	{"/catalog", "http.response.body", "handleCatalog", "Do"},
}

// TestMissedCloseSearch: the single Jaeger search the README leads with,
// otelguard.missed_close=true, returns every missed close examples/service
// made — as many as its Tracker counted, of every kind (leaked rows, a
// leaked Content-Length body and a leaked chunked one, rows and a
// transaction database/sql closed when their request ended) — each under
// its request's span, with status Error and a description, and a
// code.stacktrace that starts at the handler, at the line of the call that
// acquired it (read from the example's source). The searches by kind
// (otelguard.outcome=leaked_without_close, otelguard.db.closed_by=context,
// otelguard.outcome=open_at_shutdown) find nothing the single search
// misses.
func TestMissedCloseSearch(t *testing.T) {
	bin := example(t, "service")
	const n = 2
	svc := serviceName(t)
	out := runExample(t, bin, otlpEnv(shared, svc), "-selftest", fmt.Sprint(n))
	var counted int
	i := strings.LastIndex(out, "selftest: ")
	if i < 0 {
		t.Fatalf("no selftest line in the service's output:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "selftest: %d missed closes", &counted); err != nil {
		t.Fatalf("no missed close count in the service's output (%v):\n%s", err, out)
	}
	if counted != len(serviceMissedCloses)*n {
		t.Errorf("the service's Tracker counted %d missed closes, want %d", counted, len(serviceMissedCloses)*n)
	}

	want := map[[2]string]serviceMissed{}
	for _, m := range serviceMissedCloses {
		want[[2]string{m.route, m.name}] = m
	}
	src := filepath.Join(repoRoot, "examples", "service")
	got := map[[2]string]int{}
	found := map[string]bool{} // span IDs
	ms := shared.searchAtLeast(t, svc, map[string]string{"otelguard.missed_close": "true"}, counted)
	for _, m := range ms {
		s := m.span
		found[s.SpanID] = true
		req := m.request(s)
		if req == nil {
			t.Errorf("missed close %s %s: not under a request span in trace %s", s.OperationName, s.SpanID, m.trace.TraceID)
			continue
		}
		key := [2]string{req.str("http.route"), s.OperationName}
		got[key]++
		st, ok := want[key]
		if !ok {
			t.Errorf("missed close %s %s under %s: not one the stories make (outcome %s)", s.OperationName, s.SpanID, key[0], s.str("otelguard.outcome"))
			continue
		}
		if s.str("error") != "true" || s.str("otel.status_code") != "ERROR" || s.str("otel.status_description") == "" {
			t.Errorf("missed close %s %s under %s: error=%q otel.status_code=%q otel.status_description=%q, want true, ERROR and a description",
				s.OperationName, s.SpanID, key[0], s.str("error"), s.str("otel.status_code"), s.str("otel.status_description"))
		}
		file, line := acquireLine(t, src, st.handler, st.call)
		if err := firstFrameIs(s.str("code.stacktrace"), "main.(*server)."+st.handler, "examples/service/"+file, line); err != nil {
			t.Errorf("missed close %s %s under %s: %v", s.OperationName, s.SpanID, key[0], err)
		}
	}
	for key := range want {
		if got[key] != n {
			t.Errorf("otelguard.missed_close=true: %d %s under %s, want %d", got[key], key[1], key[0], n)
		}
	}
	if len(ms) != counted {
		t.Errorf("otelguard.missed_close=true found %d spans, the service counted %d: %v", len(ms), counted, got)
	}

	// The searches by kind find nothing the single search missed.
	for _, tags := range []map[string]string{
		{"otelguard.outcome": "leaked_without_close"},
		{"otelguard.db.closed_by": "context"},
		{"otelguard.outcome": "open_at_shutdown"},
	} {
		others, err := shared.search(svc, tags)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range others {
			if !found[m.span.SpanID] {
				t.Errorf("%v found %s %s, which otelguard.missed_close=true did not", tags, m.span.OperationName, m.span.SpanID)
			}
		}
	}
	if t.Failed() {
		t.Logf("otelguard.missed_close=true found %v", got)
	}
}

// firstFrameIs checks that stack (Go traceback format, as code.stacktrace
// has it) starts at function fn, in a file whose path ends in file, at
// line.
func firstFrameIs(stack, fn, file string, line int) error {
	lines := strings.SplitN(stack, "\n", 3)
	if len(lines) < 2 {
		return fmt.Errorf("code.stacktrace %q: want a frame", stack)
	}
	at := strings.TrimSpace(lines[1])
	if i := strings.LastIndex(at, " +0x"); i >= 0 {
		at = at[:i]
	}
	if lines[0] != fn+"(...)" || !strings.HasSuffix(at, fmt.Sprintf("%s:%d", file, line)) {
		return fmt.Errorf("code.stacktrace starts at %s %s, want %s at %s:%d:\n%s", lines[0], at, fn, file, line, stack)
	}
	return nil
}

// acquireLine finds, in the Go files of dir, the method handler (of any
// type) and the first call in it of a method named call: its file's name
// and the line of its opening parenthesis, the line a stack names.
func acquireLine(t *testing.T, dir, handler, call string) (string, int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Name.Name != handler {
				continue
			}
			line := 0
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok && line == 0 {
					if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == call {
						line = fset.Position(c.Lparen).Line
					}
				}
				return line == 0
			})
			if line == 0 {
				t.Fatalf("%s: no call of %s in %s", name, call, handler)
			}
			return filepath.Base(name), line
		}
	}
	t.Fatalf("no method %s in %s", handler, dir)
	return "", 0
}
