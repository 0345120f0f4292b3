package otelguardcheck

import (
	"fmt"
	"go/ast"
	"go/types"
	"slices"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/ctrlflow"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/cfg"
)

// Analyzer reports otelguard lifetimes that a function can leave open: a
// Guard neither run nor disarmed, a Resource or Scope not closed, on some
// path to a return; a handle discarded at its acquire; defer g.Disarm();
// and Resource.Value after the Resource was closed. See the package
// documentation for the rules and for what counts as a hand-off.
//
// Analyzer is safe to run on many packages at once, as go vet does.
var Analyzer = &analysis.Analyzer{
	Name:     "otelguardcheck",
	Doc:      "report otelguard lifetimes (Guard, Resource, Scope) left open on some path\n\n" + rulesDoc,
	URL:      "https://pkg.go.dev/github.com/otelguard/otelguard-go/otelguardcheck",
	Run:      run,
	Requires: []*analysis.Analyzer{inspect.Analyzer, ctrlflow.Analyzer},
}

const rulesDoc = `A lifetime acquired by otelguard (NewGuard, Acquire, Track, NewScope) into
a local variable must be ended on every path to a
return: a *Guard by Run or Disarm, a *Resource by Close, CloseAsync or Detach,
a *Scope by Close or Disarm (Tracker.CloseAll ends them all). Returning it,
storing it in a field, map, slice or global, sending it on a channel,
capturing it in a closure that runs later or in a go statement, passing it to
a function that may keep it, adding it to a Scope, or acquiring it with
CloseOnCancel() on a context that can be done hands it off: not a leak. Also
reported: a handle discarded at its acquire, defer g.Disarm() (the guard can
then never run), and r.Value() after r was closed. A //otelguard:handoff
<reason> comment on the line of a report, or on the line before, silences it.`

// checker holds what one pass learns about its package.
type checker struct {
	pass      *analysis.Pass
	cfgs      *ctrlflow.CFGs
	decls     map[*types.Func]*ast.FuncDecl // this package's functions, for argUse
	keepsMemo map[*types.Var]bool
	// selectComms holds the communications of select cases, see selectComm.
	selectComms map[ast.Node]bool
	silenced    map[lineKey]bool // lines holding or following an //otelguard:handoff
}

type lineKey struct {
	file string
	line int
}

func run(pass *analysis.Pass) (any, error) {
	if !importsOtelguard(pass.Pkg) {
		return nil, nil // fast path, as lostcancel's: no handle can appear
	}
	c := &checker{
		pass:        pass,
		cfgs:        pass.ResultOf[ctrlflow.Analyzer].(*ctrlflow.CFGs),
		decls:       make(map[*types.Func]*ast.FuncDecl),
		keepsMemo:   make(map[*types.Var]bool),
		selectComms: make(map[ast.Node]bool),
		silenced:    make(map[lineKey]bool),
	}
	for _, f := range pass.Files {
		c.readDirectives(f)
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if fn, ok := pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
					c.decls[fn] = fd
				}
			}
		}
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	insp.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		c.checkFunc(n)
	})
	return nil, nil
}

// importsOtelguard reports whether pkg is otelguard or imports it.
func importsOtelguard(pkg *types.Package) bool {
	if pkg.Path() == otelguardPath {
		return true
	}
	return slices.ContainsFunc(pkg.Imports(), func(p *types.Package) bool { return p.Path() == otelguardPath })
}

// acquired is a lifetime acquired into a local variable, or discarded.
type acquired struct {
	v    *types.Var // nil when the handle is discarded
	k    kind
	fn   *types.Func   // the acquiring function, for the report
	call *ast.CallExpr // where it is acquired
	def  ast.Node      // the AssignStmt or ValueSpec, a node of the CFG; for a discarded handle, the node that holds call
}

// fate is what the code around an acquire does with the handle.
type fate uint8

const (
	handedOff fate = iota // or ended where it stands
	followed              // into a local variable: follow it
	discarded             // dropped: only Tracker.CloseAll can end it
)

// checkFunc checks one function body. Nested function literals are checked
// on their own, as lostcancel does.
func (c *checker) checkFunc(node ast.Node) {
	var body *ast.BlockStmt
	var ftype *ast.FuncType
	isMain := false
	switch n := node.(type) {
	case *ast.FuncDecl:
		body, ftype = n.Body, n.Type
		isMain = n.Recv == nil && n.Name.Name == "main" && c.pass.Pkg.Name() == "main"
	case *ast.FuncLit:
		body, ftype = n.Body, n.Type
	}
	if body == nil {
		return
	}
	info := c.pass.TypesInfo
	funcScope := info.Scopes[ftype]

	var lifetimes, dropped []acquired
	var defers []*ast.DeferStmt
	var ended []*types.Var // resources ended by a direct call, for valueAfterEnd
	ast.PreorderStack(body, nil, func(n ast.Node, stack []ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CommClause:
			if n.Comm != nil {
				c.selectComms[n.Comm] = true
			}
		case *ast.DeferStmt:
			defers = append(defers, n)
			c.checkDeferDisarm(n)
		case *ast.CallExpr:
			if v := endedResource(info, n, stack); v != nil && !slices.Contains(ended, v) {
				ended = append(ended, v)
			}
			k, fn := acquireKind(info, n)
			if k == notHandle || handedToContext(info, n, fn) {
				return true
			}
			switch a, f := c.site(n, stack, funcScope); f {
			case followed:
				a.k, a.fn = k, fn
				lifetimes = append(lifetimes, a)
			case discarded:
				dropped = append(dropped, acquired{k: k, fn: fn, call: n})
			}
		}
		return true
	})

	for _, v := range ended {
		c.valueAfterEnd(node, v)
	}
	if len(dropped) > 0 {
		// A discarded handle leaks unless Tracker.CloseAll ends it on
		// every path that follows.
		g := c.cfg(node)
		for _, a := range dropped {
			a.def = nodeOf(g, a.call)
			if a.def == nil || !releasedByEarlierDefer(c, defers, a) && c.leak(g, nil, a.def, false) != nil {
				c.report(a.call, "discarded", "the %s from %s is discarded: nothing can %s it", a.k, a.fn.Name(), a.k.enders())
			}
		}
	}
	if len(lifetimes) == 0 || isMain {
		// Returning from main.main ends the process: like lostcancel,
		// the analyzer does not ask main to end what the exit ends.
		return
	}
	g := c.cfg(node)
	var results []*types.Var
	if sig := c.signature(node); sig != nil {
		results = slices.Collect(sig.Results().Variables())
	}
	for _, a := range lifetimes {
		if releasedByEarlierDefer(c, defers, a) {
			continue
		}
		namedResult := slices.Contains(results, a.v)
		if at := c.leak(g, a.v, a.def, namedResult); at != nil {
			c.reportLeak(a, at, body)
		}
	}
}

// signature returns the signature of a FuncDecl or FuncLit, nil if unknown.
func (c *checker) signature(node ast.Node) *types.Signature {
	if fd, ok := node.(*ast.FuncDecl); ok {
		if fn, ok := c.pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
			return fn.Signature()
		}
		return nil
	}
	sig, _ := c.pass.TypesInfo.TypeOf(node.(*ast.FuncLit)).(*types.Signature)
	return sig
}

func (c *checker) cfg(node ast.Node) *cfg.CFG {
	if fd, ok := node.(*ast.FuncDecl); ok {
		return c.cfgs.FuncDecl(fd)
	}
	return c.cfgs.FuncLit(node.(*ast.FuncLit))
}

// site decides the fate of the handle that call acquires, from where the
// call stands: followed when it goes into a local variable of this
// function; discarded when dropped; handed off when returned, stored, sent
// or passed on, or ended at once (NewGuard(…).Run()).
func (c *checker) site(call *ast.CallExpr, stack []ast.Node, funcScope *types.Scope) (acquired, fate) {
	info := c.pass.TypesInfo
	var child ast.Node = call
	for i := len(stack) - 1; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			child = p
			continue
		case *ast.ExprStmt, *ast.GoStmt, *ast.DeferStmt:
			return acquired{}, discarded
		case *ast.SelectorExpr:
			// Track(…).Close(ctx) ends it where it is acquired; any other
			// use of the bare result, Track(…).Value(), drops the handle.
			if fn, k := handleMethod(info, p); fn != nil && k.ends(fn.Name()) {
				return acquired{}, handedOff
			}
			return acquired{}, discarded
		case *ast.AssignStmt:
			if j := slices.Index(p.Rhs, child.(ast.Expr)); j >= 0 && len(p.Lhs) == len(p.Rhs) {
				return c.into(p.Lhs[j], p, call, funcScope)
			}
		case *ast.ValueSpec:
			if j := slices.Index(p.Values, child.(ast.Expr)); j >= 0 && j < len(p.Names) {
				return c.into(p.Names[j], p, call, funcScope)
			}
		}
		return acquired{}, handedOff
	}
	return acquired{}, handedOff
}

// into decides the fate of `lhs = call`: a local variable is followed, _
// discards the handle, anything else (a field, an element, a global, a
// variable of an enclosing function) stores it: a hand-off.
func (c *checker) into(lhs ast.Expr, def ast.Node, call *ast.CallExpr, funcScope *types.Scope) (acquired, fate) {
	id, ok := ast.Unparen(lhs).(*ast.Ident)
	if !ok {
		return acquired{}, handedOff
	}
	if id.Name == "_" {
		return acquired{}, discarded
	}
	v, ok := c.pass.TypesInfo.ObjectOf(id).(*types.Var)
	if !ok || !funcScope.Contains(v.Pos()) {
		return acquired{}, handedOff
	}
	return acquired{v: v, call: call, def: def}, followed
}

// nodeOf returns the node of g that holds n.
func nodeOf(g *cfg.CFG, n ast.Node) ast.Node {
	for _, b := range g.Blocks {
		for _, bn := range b.Nodes {
			if bn.Pos() <= n.Pos() && n.End() <= bn.End() {
				return bn
			}
		}
	}
	return nil
}

// releasedByEarlierDefer reports whether a defer statement placed before
// the acquire already ends or hands off the variable it goes into:
//
//	var r *otelguard.Resource[*os.File]
//	defer func() {
//		if r != nil {
//			_ = r.Close(ctx)
//		}
//	}()
//	r = otelguard.Track(ctx, "f", f)
func releasedByEarlierDefer(c *checker, defers []*ast.DeferStmt, a acquired) bool {
	for _, d := range defers {
		if d.Pos() < a.def.Pos() && c.effectIn(d, a.v, false) == taken {
			return true
		}
	}
	return false
}

// leak searches the CFG, as lostcancel does, for a path from def (which puts
// a new lifetime in v) on which v is neither taken (ended or handed off)
// before a return statement, nor before v is assigned again. It returns the
// return or assignment that ends such a path, or nil. With v nil (a
// discarded handle) only Tracker.CloseAll takes it.
func (c *checker) leak(g *cfg.CFG, v *types.Var, def ast.Node, namedResult bool) ast.Node {
	// step reports whether n ends the search, and whether it leaks.
	step := func(n ast.Node) (stop bool, at ast.Node) {
		switch c.effectIn(n, v, namedResult) {
		case taken:
			return true, nil
		case overwritten:
			return true, n
		}
		return false, nil
	}
	// scan steps through the nodes of block b (nil for the rest of the
	// defining block).
	scan := func(b *cfg.Block, nodes []ast.Node) (stop bool, at ast.Node) {
		if comm := selectComm(b); comm != nil {
			if stop, at := step(comm); stop {
				return stop, at
			}
		}
		for _, n := range nodes {
			if c.selectComms[n] {
				continue // see selectComm
			}
			if stop, at := step(n); stop {
				return stop, at
			}
		}
		return false, nil
	}

	var defBlock *cfg.Block
	var rest []ast.Node
outer:
	for _, b := range g.Blocks {
		for i, n := range b.Nodes {
			if n == def {
				defBlock, rest = b, b.Nodes[i+1:]
				break outer
			}
		}
	}
	if defBlock == nil {
		return nil // no path to follow
	}
	if stop, at := scan(nil, rest); stop {
		return at
	}
	if ret := defBlock.Return(); ret != nil {
		return ret
	}

	seen := make(map[*cfg.Block]bool)
	var search func(blocks []*cfg.Block) ast.Node
	search = func(blocks []*cfg.Block) ast.Node {
		for _, b := range blocks {
			if seen[b] {
				continue
			}
			seen[b] = true
			if stop, at := scan(b, b.Nodes); stop {
				if at != nil {
					return at
				}
				continue
			}
			if ret := b.Return(); ret != nil {
				return ret
			}
			if at := search(b.Succs); at != nil {
				return at
			}
		}
		return nil
	}
	return search(defBlock.Succs)
}

// selectComm returns the communication of the select case whose body b is.
// The CFG lists every case's communication before the select, on every
// path (a known simplification of go/cfg), so leak skips them there and
// takes each one at the head of its own case: ch <- r in one case hands r
// off on that path only.
func selectComm(b *cfg.Block) ast.Stmt {
	if b == nil || b.Kind != cfg.KindSelectCaseBody {
		return nil
	}
	return b.Stmt.(*ast.CommClause).Comm
}

// checkDeferDisarm reports defer g.Disarm(): a deferred Disarm disarms the
// guard on every path, the failure paths included, so its cleanup can never
// run. (defer s.Disarm() on a Scope is not reported: the issue asked for
// the guard, and a scope's Disarm hands its members back rather than
// dropping them.)
func (c *checker) checkDeferDisarm(d *ast.DeferStmt) {
	sel, ok := ast.Unparen(d.Call.Fun).(*ast.SelectorExpr)
	if !ok {
		return
	}
	if fn, k := handleMethod(c.pass.TypesInfo, sel); k == guardKind && fn.Name() == "Disarm" {
		c.report(d, "deferdisarm", "defer %s.Disarm() disarms the guard on every path, so its cleanup can never run: call Disarm where the work has succeeded",
			types.ExprString(sel.X))
	}
}

func (c *checker) reportLeak(a acquired, at ast.Node, body *ast.BlockStmt) {
	fset := c.pass.Fset
	line := fset.Position(at.Pos()).Line
	var where string
	switch {
	case at == a.def:
		where = fmt.Sprintf("line %d acquires it again (a loop) while it is still open", line)
	case at.Pos() == body.Rbrace:
		where = fmt.Sprintf("the end of the function (line %d) is reached without %s", line, a.k.enders())
	default:
		if _, ok := at.(*ast.ReturnStmt); ok {
			where = fmt.Sprintf("the return on line %d is reached without %s", line, a.k.enders())
		} else {
			where = fmt.Sprintf("it is overwritten on line %d while still open", line)
		}
	}
	c.emit(analysis.Diagnostic{
		Pos:      a.call.Pos(),
		End:      a.call.End(),
		Category: "leak",
		Message:  fmt.Sprintf("%s (%s from %s) is not %s on every path: %s", a.v.Name(), a.k, a.fn.Name(), a.k.ended(), where),
		Related:  []analysis.RelatedInformation{{Pos: at.Pos(), Message: "left open here"}},
	})
}

// report reports at n.
func (c *checker) report(n ast.Node, category, format string, args ...any) {
	c.emit(analysis.Diagnostic{
		Pos: n.Pos(), End: n.End(), Category: category, Message: fmt.Sprintf(format, args...),
	})
}
