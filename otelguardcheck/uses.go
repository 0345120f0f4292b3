package otelguardcheck

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/types/typeutil"
)

// effect is what a statement does to a handle held in a variable.
type effect uint8

const (
	// neutral: the handle is read and stays where it is (Value, Name,
	// Defer, Add on a scope, a nil check, a call of a function of
	// this package that provably does not keep it).
	neutral effect = iota
	// taken: the lifetime is ended (Close, Run, Disarm, …) or handed off
	// to something that outlives the statement (returned, stored, sent,
	// captured by a closure that runs later, passed to a function that may
	// keep it). Either way this function is no longer the one to end it.
	taken
	// overwritten: the variable is assigned again while the handle in it
	// is still open, so nothing can end that lifetime any more.
	overwritten
)

// effectIn reports what node n does to the handle in v: taken if any part of
// n takes it (or calls Tracker.CloseAll), else overwritten if n assigns v,
// else neutral. (In Go an assignment happens after its right-hand side is
// evaluated, so a statement that both takes and assigns v took the handle
// first.) A closure that n calls in place, deferred or not, is part of n; a
// closure that runs later and mentions v takes it. namedResult says that v
// is a result parameter, which a bare return hands to the caller. With v nil
// only CloseAll takes.
func (c *checker) effectIn(n ast.Node, v *types.Var, namedResult bool) effect {
	if ret, ok := n.(*ast.ReturnStmt); ok && ret.Results == nil && namedResult {
		return taken
	}
	eff := neutral
	ast.PreorderStack(n, nil, func(n ast.Node, stack []ast.Node) bool {
		if eff == taken {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			if !calledInPlace(n, stack) {
				if v != nil && mentions(c.pass.TypesInfo, n, v) {
					eff = taken
				}
				return false
			}
		case *ast.CallExpr:
			// Tracker.CloseAll releases every lifetime still open. Which
			// Tracker a handle belongs to is not known here: any will do.
			if fn, _ := typeutil.Callee(c.pass.TypesInfo, n).(*types.Func); isOtelguardFunc(fn, "CloseAll") {
				eff = taken
				return false
			}
		case *ast.Ident:
			if obj := c.pass.TypesInfo.ObjectOf(n); v != nil && obj == v {
				switch c.useOf(n, stack) {
				case taken:
					eff = taken
				case overwritten:
					if !insideClosure(stack) {
						eff = overwritten
					}
				}
			}
		}
		return true
	})
	return eff
}

// useOf classifies one occurrence id of a handle variable, given the stack
// of nodes that enclose it. Anything it does not recognise takes the handle:
// an escape the analyzer cannot follow is a hand-off, never a leak.
func (c *checker) useOf(id *ast.Ident, stack []ast.Node) effect {
	var child ast.Node = id
	for i := len(stack) - 1; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			child = p
			continue
		case *ast.SelectorExpr:
			return c.methodUse(p, stack[:i])
		case *ast.BinaryExpr:
			if p.Op == token.EQL || p.Op == token.NEQ {
				return neutral // r != nil
			}
		case *ast.AssignStmt:
			for j, lhs := range p.Lhs {
				if lhs == child {
					return overwritten
				}
				if len(p.Lhs) == len(p.Rhs) && p.Rhs[j] == child && isBlank(lhs) {
					return neutral // _ = r
				}
			}
		case *ast.ValueSpec:
			for j, name := range p.Names {
				if name == child {
					return overwritten
				}
				if j < len(p.Values) && p.Values[j] == child && isBlank(name) {
					return neutral
				}
			}
		case *ast.CallExpr:
			for j, arg := range p.Args {
				if arg == child {
					return c.argUse(p, j)
				}
			}
		}
		return taken
	}
	return taken // a bare identifier the CFG lists on its own: a range or select target
}

// methodUse classifies r.M for a handle r: calling a method that ends the
// lifetime takes it; any other method of the handle is neutral; a method
// value (r.Close without a call) or a method the analyzer does not know (of
// an interface the handle was put in) takes it.
func (c *checker) methodUse(sel *ast.SelectorExpr, stack []ast.Node) effect {
	fn, k := handleMethod(c.pass.TypesInfo, sel)
	if fn == nil || len(stack) == 0 {
		return taken
	}
	call, ok := stack[len(stack)-1].(*ast.CallExpr)
	if !ok || call.Fun != sel {
		return taken // method value
	}
	if k.ends(fn.Name()) {
		return taken
	}
	return neutral
}

// argUse classifies a handle passed as argument j of call. A function of
// this package that provably does not keep its parameter leaves the handle
// with the caller; every other callee (of another package, an interface
// method, a function value, a variadic parameter) may keep it: a hand-off.
func (c *checker) argUse(call *ast.CallExpr, j int) effect {
	fn := typeutil.StaticCallee(c.pass.TypesInfo, call)
	if fn == nil || call.Ellipsis.IsValid() {
		return taken
	}
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
		if s := c.pass.TypesInfo.Selections[sel]; s != nil && s.Kind() == types.MethodExpr {
			return taken // T.m(recv, args…): the receiver shifts the arguments
		}
	}
	fn = fn.Origin()
	decl := c.decls[fn]
	sig := fn.Type().(*types.Signature)
	if decl == nil || decl.Body == nil || (sig.Variadic() && j >= sig.Params().Len()-1) {
		return taken
	}
	param := sig.Params().At(j)
	if param.Name() == "" || param.Name() == "_" {
		return neutral
	}
	if c.keeps(param, decl.Body) {
		return taken
	}
	return neutral
}

// keeps reports whether the function whose body is given takes its
// parameter p: ends it, or hands it off, on some path. Taking it on some
// path is enough (the condition is trusted, as it is for a deferred
// closure); a recursive cycle is assumed to keep it.
func (c *checker) keeps(p *types.Var, body *ast.BlockStmt) bool {
	if k, ok := c.keepsMemo[p]; ok {
		return k
	}
	c.keepsMemo[p] = true // a cycle keeps it
	k := c.effectIn(body, p, false) == taken
	c.keepsMemo[p] = k
	return k
}

// calledInPlace reports whether lit is called where it stands, deferred or
// at once: func() { … }() or defer func() { … }(). A go statement's closure
// is not: it runs concurrently and may outlive the function.
func calledInPlace(lit *ast.FuncLit, stack []ast.Node) bool {
	var child ast.Node = lit
	for i := len(stack) - 1; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			child = p
		case *ast.CallExpr:
			if p.Fun != child {
				return false
			}
			if i > 0 {
				if _, isGo := stack[i-1].(*ast.GoStmt); isGo {
					return false
				}
			}
			return true
		default:
			return false
		}
	}
	return false
}

// insideClosure reports whether the stack passes through a function literal.
func insideClosure(stack []ast.Node) bool {
	for _, n := range stack {
		if _, ok := n.(*ast.FuncLit); ok {
			return true
		}
	}
	return false
}

// mentions reports whether v occurs in n.
func mentions(info *types.Info, n ast.Node, v *types.Var) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == v {
			found = true
		}
		return !found
	})
	return found
}

func isBlank(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "_"
}
