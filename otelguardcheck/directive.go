package otelguardcheck

import (
	"go/ast"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// handoffDirective marks a hand-off the analyzer cannot see. Written on the
// line of the acquire, or alone on the line before it, with a reason:
//
//	//otelguard:handoff the pool's Put closes it
//	c := otelguard.Track(ctx, "conn", conn)
const handoffDirective = "//otelguard:handoff"

// readDirectives records the lines that f's //otelguard:handoff comments
// silence, and reports a directive that gives no reason: a reason is what
// lets the next reader check that the hand-off is real.
func (c *checker) readDirectives(f *ast.File) {
	for _, group := range f.Comments {
		for _, com := range group.List {
			rest, ok := strings.CutPrefix(com.Text, handoffDirective)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			if strings.TrimSpace(rest) == "" {
				c.pass.Report(analysis.Diagnostic{
					Pos: com.Pos(), End: com.End(), Category: "handoff",
					Message: "//otelguard:handoff needs a reason: say what ends the lifetime",
				})
				continue
			}
			pos := c.pass.Fset.Position(com.Pos())
			c.silenced[lineKey{pos.Filename, pos.Line}] = true
			c.silenced[lineKey{pos.Filename, pos.Line + 1}] = true
		}
	}
}

// emit reports d unless an //otelguard:handoff silences its line.
func (c *checker) emit(d analysis.Diagnostic) {
	pos := c.pass.Fset.Position(d.Pos)
	if c.silenced[lineKey{pos.Filename, pos.Line}] {
		return
	}
	c.pass.Report(d)
}
