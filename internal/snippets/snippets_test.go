package snippets

import (
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// root is the repository's root, two levels up from this package.
const root = "../.."

// snippet is a block of code found in prose.
type snippet struct {
	where string // file:line
	text  string
}

// skipDir reports whether a directory holds nothing of the repository's
// own prose or compiled code.
func skipDir(path string, d fs.DirEntry) bool {
	name := d.Name()
	return path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "bin")
}

func walk(t *testing.T, fn func(path string)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(path, d) {
				return filepath.SkipDir
			}
			return nil
		}
		fn(path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var fence = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

// markdownSnippets returns the ```go blocks of the Markdown files.
func markdownSnippets(t *testing.T) []snippet {
	var out []snippet
	walk(t, func(path string) {
		if !strings.HasSuffix(path, ".md") {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllSubmatchIndex(b, -1) {
			line := 1 + strings.Count(string(b[:m[0]]), "\n")
			out = append(out, snippet{rel(path) + ":" + itoa(line), string(b[m[2]:m[3]])})
		}
	})
	return out
}

// docSnippets returns the code blocks of the doc comments of every Go
// file that is not a test.
func docSnippets(t *testing.T) []snippet {
	var out []snippet
	var p comment.Parser
	walk(t, func(path string) {
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, cg := range f.Comments {
			if !isDoc(f, cg) {
				continue
			}
			for _, blk := range p.Parse(cg.Text()).Content {
				if c, ok := blk.(*comment.Code); ok {
					out = append(out, snippet{rel(path) + ":" + itoa(fset.Position(cg.Pos()).Line), c.Text})
				}
			}
		}
	})
	return out
}

// isDoc reports whether cg is a doc comment: of the package, or of a
// declaration or one of its specs or fields.
func isDoc(f *ast.File, cg *ast.CommentGroup) bool {
	found := cg == f.Doc
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			found = found || n.Doc == cg
		case *ast.GenDecl:
			found = found || n.Doc == cg
		case *ast.TypeSpec:
			found = found || n.Doc == cg
		case *ast.ValueSpec:
			found = found || n.Doc == cg
		case *ast.Field:
			found = found || n.Doc == cg
		}
		return !found
	})
	return found
}

// goLike matches lines that only Go code has: a block in prose with one of
// them is Go, and must parse.
var goLike = regexp.MustCompile(`(?m)^\s*(func |defer |if |for |return\b|go (func|[A-Za-z_][\w.]*\()|var |type |import "|package \w+$)|:= `)

// isGo reports whether text is Go (a file's declarations, or statements),
// and whether it looks like Go at all.
func isGo(text string) (parses, looks bool) {
	fset := token.NewFileSet()
	if _, err := parser.ParseFile(fset, "", "package p\n"+text, 0); err == nil {
		return true, true
	}
	if strings.HasPrefix(text, "package ") {
		if _, err := parser.ParseFile(fset, "", text, 0); err == nil {
			return true, true
		}
	}
	if _, err := parser.ParseFile(fset, "", "package p\nfunc _() {\n"+text+"\n}", 0); err == nil {
		return true, true
	}
	return false, goLike.MatchString(text)
}

// norm is text's lines trimmed, blank ones dropped: a snippet matches code
// that holds the same lines in order, whatever their indentation. The
// analyzer's directive lines are dropped too, on both sides: a compiled
// copy may carry one where the snippet shows a mistake on purpose.
func norm(text string) []string {
	var out []string
	for l := range strings.Lines(text) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "//otelguard:handoff ") {
			out = append(out, l)
		}
	}
	return out
}

// compiled returns the normalized lines of every Go file `make test`
// compiles and runs for its own sake: test files (Examples, tests), the
// example programs, and the analyzer's testdata (type-checked and analyzed
// by its tests, which check every report a snippet there shows).
func compiled(t *testing.T) map[string][]string {
	out := map[string][]string{}
	add := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[rel(path)] = norm(string(b))
	}
	_ = filepath.WalkDir(filepath.Join(root, "otelguardcheck", "testdata", "src"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
			add(path)
		}
		return nil
	})
	walk(t, func(path string) {
		r := rel(path)
		if !strings.HasSuffix(path, "_test.go") && !(strings.HasPrefix(r, "examples/") && strings.HasSuffix(path, ".go")) {
			return
		}
		add(path)
	})
	return out
}

func contains(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		match := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func TestEverySnippetIsCompiledCode(t *testing.T) {
	code := compiled(t)
	snippets := append(markdownSnippets(t), docSnippets(t)...)
	checked := 0
	for _, s := range snippets {
		parses, looks := isGo(s.text)
		if !looks {
			continue // a table, a command's output, a stack: not Go
		}
		if !parses {
			t.Errorf("%s: this snippet looks like Go but does not parse:\n%s", s.where, s.text)
			continue
		}
		checked++
		lines := norm(s.text)
		found := false
		for _, c := range code {
			if contains(c, lines) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: this snippet is not in any compiled Example, test or example program; copy it into one, line for line:\n%s", s.where, s.text)
		}
	}
	if checked == 0 {
		t.Fatal("no Go snippet found: the extraction is broken")
	}
	t.Logf("%d Go snippets checked, of %d blocks", checked, len(snippets))
}

func rel(path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}

func itoa(n int) string { return strconv.Itoa(n) }
