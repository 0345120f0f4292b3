package otelguardcheck

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/cfg"
)

// endedResource returns the variable r when call is r.Close(…),
// r.CloseAsync(…) or r.Detach() on a *Resource held in a variable, called
// where it stands: not deferred, not in a go statement.
func endedResource(info *types.Info, call *ast.CallExpr, stack []ast.Node) *types.Var {
	v, name := resourceCall(info, call)
	if v == nil || !resourceKind.ends(name) {
		return nil
	}
	switch stack[len(stack)-1].(type) {
	case *ast.DeferStmt, *ast.GoStmt:
		return nil
	}
	return v
}

// resourceCall returns r and M when call is r.M(…) for a method M of a
// *otelguard.Resource held in the variable r.
func resourceCall(info *types.Info, call *ast.CallExpr) (*types.Var, string) {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return nil, ""
	}
	fn, k := handleMethod(info, sel)
	if fn == nil || k != resourceKind {
		return nil, ""
	}
	id, ok := ast.Unparen(sel.X).(*ast.Ident)
	if !ok {
		return nil, ""
	}
	v, _ := info.Uses[id].(*types.Var)
	return v, fn.Name()
}

// valueAfterEnd reports r.Value() where every path to it has ended r
// (Close, CloseAsync, Detach) and not assigned r since. It is a forward
// must-analysis over the CFG: a Value reached from a path on which r is
// still open is not reported, so a Close under one condition and a Value
// under its negation stay quiet.
func (c *checker) valueAfterEnd(node ast.Node, v *types.Var) {
	g := c.cfg(node)
	// in[b] is the call that ended v on every path into b, nil when v may
	// be open there; a block absent from in has not been reached yet.
	in := map[*cfg.Block]*ast.CallExpr{g.Blocks[0]: nil}
	for changed := true; changed; {
		changed = false
		for _, b := range g.Blocks {
			st, ok := in[b]
			if !ok {
				continue
			}
			for _, n := range b.Nodes {
				st = c.endEvents(n, v, st, false)
			}
			for _, s := range b.Succs {
				if old, seen := in[s]; !seen {
					in[s], changed = st, true
				} else if old != nil && st == nil {
					in[s], changed = nil, true
				}
			}
		}
	}
	for _, b := range g.Blocks {
		if st, ok := in[b]; ok {
			for _, n := range b.Nodes {
				st = c.endEvents(n, v, st, true)
			}
		}
	}
}

// endEvents walks n in evaluation order from state st (the call that ended
// v, or nil) and returns the state after n; with report set it reports each
// r.Value() met while v is ended.
func (c *checker) endEvents(n ast.Node, v *types.Var, st *ast.CallExpr, report bool) *ast.CallExpr {
	info := c.pass.TypesInfo
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit, *ast.DeferStmt, *ast.GoStmt:
				return false // runs elsewhere, or later
			case *ast.AssignStmt:
				for _, e := range n.Rhs {
					walk(e)
				}
				for _, e := range n.Lhs {
					if id, ok := ast.Unparen(e).(*ast.Ident); ok && info.ObjectOf(id) == v {
						st = nil
					} else {
						walk(e)
					}
				}
				return false
			case *ast.ValueSpec:
				for _, e := range n.Values {
					walk(e)
				}
				for _, id := range n.Names {
					if info.ObjectOf(id) == v {
						st = nil
					}
				}
				return false
			case *ast.CallExpr:
				r, name := resourceCall(info, n)
				if r != v {
					return true
				}
				for _, e := range n.Args {
					walk(e)
				}
				switch {
				case name == "Value" && st != nil && report:
					end := ast.Unparen(st.Fun).(*ast.SelectorExpr).Sel.Name
					c.report(n, "valueafterclose", "%s.Value() after %s.%s on line %d: the lifetime has ended",
						v.Name(), v.Name(), end, c.pass.Fset.Position(st.Pos()).Line)
				case resourceKind.ends(name):
					st = n
				}
				return false
			}
			return true
		})
	}
	walk(n)
	return st
}
