// Package otelguardcheck is a go/analysis Analyzer that finds an otelguard
// lifetime left open before the code runs: a Guard neither run nor
// disarmed, a Resource or a Scope not closed, on some path to a return.
// Leak detection finds the same mistake at run time, after a collection;
// this finds most of them at go vet time.
//
// # Install
//
// It is a module of its own (github.com/otelguard/otelguard-go/otelguardcheck),
// built from a clone of the repository; it needs only Go and the module
// proxy (golang.org/x/tools, and the golangci-lint plugin registry):
//
//	git clone https://github.com/otelguard/otelguard-go
//	cd otelguard-go/otelguardcheck
//	go install ./cmd/otelguardcheck              # into $(go env GOPATH)/bin, or $GOBIN
//	go build -o /usr/local/bin/otelguardcheck ./cmd/otelguardcheck   # or anywhere
//
// (go -C otelguard-go/otelguardcheck install ./cmd/otelguardcheck does the
// same from elsewhere.) Once the module is published, go install
// github.com/otelguard/otelguard-go/otelguardcheck/cmd/otelguardcheck@latest
// will do without a clone; until then it fails, the module being unknown to
// the proxy. Then, in the module to check:
//
//	go vet -vettool=$(which otelguardcheck) ./...
//	otelguardcheck ./...                         # the same, standalone
//
// make lint and make check in the repository build it into bin/ and run
// it over every module of the tree.
//
// # golangci-lint
//
// Package golangci registers it as a golangci-lint v2 module plugin (see
// https://golangci-lint.run/docs/plugins/module-plugins). golangci-lint
// custom builds a golangci-lint that includes it, from a .custom-gcl.yml;
// otelguardcheck/.custom-gcl.yml is one for a clone (the plugin's path
// given as a directory, the module not being published):
//
//	cd otelguard-go/otelguardcheck
//	golangci-lint custom   # writes ./bin/golangci-lint-otelguard
//
// and .golangci.yml enables it as package golangci's doc says. golangci-lint
// custom clones golangci-lint's repository from GitHub with git, and builds
// it with the Go on $PATH (1.26 or later for this module).
//
// # Rules
//
// A lifetime acquired into a local variable by a function of package
// otelguard that returns a handle (NewGuard, Acquire, Track, NewScope) must
// be ended, or handed off, on
// every path from the acquire to a return:
//
//   - a *Guard by Run or Disarm;
//   - a *Resource by Close, CloseAsync or Detach;
//   - a *Scope by Close or Disarm. Disarm counts: it ends the scope's own
//     lifetime (outcome disarmed), as Guard.Disarm ends a guard's.
//
// Tracker.CloseAll, which releases every open lifetime, ends them all. The
// report names the variable, the return (or the end of the function) that
// a path reaches with it open, or the assignment, or the next iteration of
// a loop, that overwrites it while open. Also reported:
//
//   - a handle discarded at its acquire (otelguard.Track(ctx, "f", f) as a
//     statement, assigned to _, or only used for Value), unless a CloseAll
//     follows on every path;
//   - defer g.Disarm() on a Guard: disarmed on every path, failures
//     included, its cleanup can never run;
//   - r.Value() where every path to it has closed r (Close, CloseAsync or
//     Detach) and not assigned it since: the lifetime has ended.
//
// The handles are known by their types in package otelguard and its
// functions by their objects, never by the spelling of a name: a type named
// Resource of another package, or a Close method of anything else, is not
// an otelguard lifetime.
//
// # Hand-offs
//
// The false positives of bodyclose, sqlclosecheck, rowserrcheck and
// go-spancheck are nearly all values handed off elsewhere. Whatever the
// analyzer cannot follow is a hand-off, never a leak; from there the
// function is no longer the one to end the lifetime. A handle is handed off
// when it is
//
//   - returned (a bare return hands off named results);
//   - stored: in a field, a map, a slice, a global, a composite literal, a
//     variable of an enclosing function, another variable; or its address
//     taken;
//   - sent on a channel (in a select, on the path of that case only);
//   - captured by a go statement, or by a closure that runs later (given
//     to t.Cleanup, returned, stored). A closure called in place, deferred
//     or not, is part of the function: an end inside it is an end;
//   - passed to a function that may keep it: a function of another package,
//     a method of an interface, a function value, a variadic parameter. A
//     function of the same package is read: if it ends or keeps its
//     parameter on some path the call takes the handle; if it provably does
//     not keep it (it only reads it), the handle stays with the caller;
//   - added to a Scope with Scope.Add;
//   - acquired with CloseOnCancel() on a context that can be done. On
//     context.Background(), context.TODO() or context.WithoutCancel(…),
//     which are never done, CloseOnCancel changes nothing; options the
//     analyzer cannot see (a variable, a spread slice) may hold it, and are
//     taken as a hand-off.
//
// A //otelguard:handoff comment with a reason, on the line of a report or
// alone on the line before it, silences that report; a reason is required
// (without one the comment is itself reported), so that the next reader can
// check the hand-off:
//
//	//otelguard:handoff the pool's Put closes it
//	c := otelguard.Track(ctx, "conn", conn)
//
// # What it does not report
//
// As lostcancel, whose path search over the control-flow graph it follows
// (go/cfg, from the ctrlflow pass), the analyzer is path-insensitive: it
// can report a path that two conditions, correlated, make impossible (an
// acquire under if debug and its Close under a second if debug); a defer,
// or the directive, answers that. Otherwise it errs towards silence:
//
//   - a path that ends in panic, os.Exit, log.Fatal, t.Fatal or any
//     function ctrlflow knows never returns is not a leak path;
//   - main.main is not asked to end what the exit ends;
//   - an end under a condition inside a deferred closure, or inside a
//     helper of the same package, counts as an end (the condition is
//     trusted: defer func() { if err != nil { r.Close(ctx) } }() is the
//     usual shape when the success path returns r);
//   - a defer placed before the acquire that ends the variable covers every
//     acquire into it, in a loop as well;
//   - a handle returned by a function that is not otelguard's (a factory of
//     the user's) is not followed in the caller;
//   - Resources added to a Scope that is then disarmed come back open; the
//     analyzer took Add as their hand-off and does not follow them back;
//   - r.Value() is reported only when every path to it has closed r, so a
//     Value in a loop whose body closes r at its end is not.
//
// # Figures
//
// On this repository (seven modules: the library, the examples, the two
// integrations, the e2e tests with their PostgreSQL service, and this
// module; 23 packages and their tests) it reports nothing. The 89
// lifetimes that the tests, examples and benchmarks leave open or misuse
// on purpose (leaks for the collector to find, guards left for Shutdown to
// report, Value after Close for the misuse record, acquires that panic on
// nil input, bodies and rows dropped to test the integrations) carry an
// //otelguard:handoff with the reason.
//
// Its cost, measured on the 2-core machine of docs/PERFORMANCE.md with
// nothing else running: the standalone driver (otelguardcheck ./...) takes
// 3 to 12 s of wall time per module, 44 s for the seven; go vet
// -vettool=otelguardcheck, once go vet has cached its results, 3 s for
// the seven. An earlier measurement on a machine shared with other jobs
// (load average 7 to 11), over the four modules of the time: a first go
// vet -vettool run over about 1,220 packages (each module's packages with
// all their dependencies and tests, since ctrlflow computes facts for
// every dependency) took 34 to 45 s, where go vet's own suite took 46 to
// 72 s.
package otelguardcheck
