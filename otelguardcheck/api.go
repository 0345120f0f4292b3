package otelguardcheck

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/types/typeutil"
)

// otelguardPath is the import path of the package whose handles are checked.
// The analyzer knows the API by the objects of this package, never by the
// spelling of an identifier: a type of another package named Resource, or a
// Close method on anything else, is not an otelguard lifetime.
const otelguardPath = "github.com/otelguard/otelguard-go/otelguard"

// kind is the kind of otelguard handle a value is.
type kind uint8

const (
	notHandle    kind = iota
	guardKind         // *otelguard.Guard
	resourceKind      // *otelguard.Resource[T]
	scopeKind         // *otelguard.Scope
)

// handleKind reports which handle t is: a pointer to otelguard's Guard,
// Resource (any instantiation) or Scope.
func handleKind(t types.Type) kind {
	ptr, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return notHandle
	}
	named, ok := types.Unalias(ptr.Elem()).(*types.Named)
	if !ok {
		return notHandle
	}
	obj := named.Origin().Obj()
	if obj.Pkg() == nil || obj.Pkg().Path() != otelguardPath {
		return notHandle
	}
	switch obj.Name() {
	case "Guard":
		return guardKind
	case "Resource":
		return resourceKind
	case "Scope":
		return scopeKind
	}
	return notHandle
}

// String is the handle's type as a report names it.
func (k kind) String() string {
	return [...]string{"", "*otelguard.Guard", "*otelguard.Resource", "*otelguard.Scope"}[k]
}

// ended is what the report says did not happen to the handle.
func (k kind) ended() string {
	return [...]string{"", "run or disarmed", "closed", "closed"}[k]
}

// enders lists the methods that end a lifetime of kind k.
func (k kind) enders() string {
	return [...]string{"", "Run or Disarm", "Close, CloseAsync or Detach", "Close or Disarm"}[k]
}

// ends reports whether the method named m ends a lifetime of kind k.
//
// Scope.Disarm counts: it ends the scope's own lifetime (outcome disarmed)
// as Guard.Disarm ends a guard's. The Resources that were given to the scope
// with Add come back open from a Disarm; the analyzer took Add as their
// hand-off and does not follow them back (a known false negative).
func (k kind) ends(m string) bool {
	switch k {
	case guardKind:
		return m == "Run" || m == "Disarm"
	case resourceKind:
		return m == "Close" || m == "CloseAsync" || m == "Detach"
	case scopeKind:
		return m == "Close" || m == "Disarm"
	}
	return false
}

// isOtelguardFunc reports whether fn is the package-level function or
// method of package otelguard named name.
func isOtelguardFunc(fn *types.Func, name string) bool {
	return fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == otelguardPath && fn.Name() == name
}

// acquireKind reports the kind of handle that call acquires: a call of a
// function of package otelguard (NewGuard, Acquire, Track, NewScope and the
// Tracker methods, and whatever acquire the package adds later) whose result
// is a handle. A method of a handle (Value, Detach of a Resource[*Guard]) is
// not an acquire even when its result is a handle.
func acquireKind(info *types.Info, call *ast.CallExpr) (kind, *types.Func) {
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != otelguardPath {
		return notHandle, nil
	}
	if recv := fn.Type().(*types.Signature).Recv(); recv != nil && handleKind(recv.Type()) != notHandle {
		return notHandle, nil
	}
	return handleKind(info.TypeOf(call)), fn
}

// handleMethod reports the method of an otelguard handle that sel selects,
// and the kind of that handle; nil when sel is not a method of a handle.
func handleMethod(info *types.Info, sel *ast.SelectorExpr) (*types.Func, kind) {
	s := info.Selections[sel]
	if s == nil || s.Kind() != types.MethodVal {
		return nil, notHandle
	}
	fn, _ := s.Obj().(*types.Func)
	k := handleKind(s.Recv())
	if fn == nil || k == notHandle {
		return nil, notHandle
	}
	return fn, k
}

// handedToContext reports whether the acquire call gives its release to a
// context that can be done: CloseOnCancel() among its options and a ctx that
// is not context.Background(), context.TODO() or context.WithoutCancel(…),
// which are never done and make CloseOnCancel change nothing.
//
// An option the analyzer cannot see (a variable, a spread slice, a call of
// another package) may be CloseOnCancel: such an acquire is taken as handed
// off, so that no report depends on what the analyzer could not see.
func handedToContext(info *types.Info, call *ast.CallExpr, fn *types.Func) bool {
	sig := fn.Type().(*types.Signature)
	if !sig.Variadic() || len(call.Args) < sig.Params().Len()-1 {
		return false
	}
	maybe := call.Ellipsis.IsValid()
	for _, opt := range call.Args[sig.Params().Len()-1:] {
		c, ok := ast.Unparen(opt).(*ast.CallExpr)
		var optFn *types.Func
		if ok {
			optFn, _ = typeutil.Callee(info, c).(*types.Func)
		}
		switch {
		case isOtelguardFunc(optFn, "CloseOnCancel"):
			maybe = true
		case optFn != nil && optFn.Pkg() != nil && optFn.Pkg().Path() == otelguardPath:
			// Another option of the package: WithTracker, ReleaseOnLeak, …
		default:
			maybe = true
		}
	}
	return maybe && len(call.Args) > 0 && !neverDone(info, call.Args[0])
}

// neverDone reports whether ctx is a context that can never be done.
func neverDone(info *types.Info, ctx ast.Expr) bool {
	c, ok := ast.Unparen(ctx).(*ast.CallExpr)
	if !ok {
		return false
	}
	fn, _ := typeutil.Callee(info, c).(*types.Func)
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "context" {
		return false
	}
	switch fn.Name() {
	case "Background", "TODO", "WithoutCancel":
		return true
	}
	return false
}
