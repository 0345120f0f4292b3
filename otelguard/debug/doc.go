// Package debug serves a live view of the lifetimes that an
// [otelguard.Tracker] holds open right now: which code acquired them, how
// many, and for how long they have been open. It answers the question a
// leaked-span report cannot, because nothing has leaked yet: "what is open
// at this moment, and who opened it?"
//
// The view comes in two forms, after the convention of net/http/pprof:
//
//   - a pprof profile (gzip-compressed profile.proto), the default, which
//     the standard tool reads;
//   - text for people and curl, with ?debug=1 (grouped by acquire site) or
//     ?debug=2 (every open lifetime with its acquire stack), or with a
//     request whose Accept header names text/plain.
//
// For example:
//
//	go tool pprof -top http://localhost:6060/debug/otelguard/live
//	curl 'http://localhost:6060/debug/otelguard/live?debug=1'
//
// Both are built from what the Tracker already has: [otelguard.Tracker.Live]
// and the program counters each lifetime captured at acquire. Nothing is
// captured a second time; symbols are looked up when the view is asked for.
//
// # Mounting
//
// Importing this package registers nothing. Mount the handler yourself:
//
//	mux := http.NewServeMux()
//	debug.Register(mux, tracker) // at debug.Path, /debug/otelguard/live
//
// or, for another path or router, use [Handler]. [WriteProfile], [WriteText]
// and [WriteLifetimes] write the same views to any io.Writer (a file
// written at shutdown, a test failure message).
//
// The view shows function names, file paths and lifetime names: serve it
// where net/http/pprof would be served, on an internal or admin listener,
// not on the public one.
//
// # The profile
//
// One sample per distinct acquire stack and label set, with two values:
//
//	lifetimes/count   how many lifetimes are open (the default sample type)
//	age/nanoseconds   the sum of their ages: how long they have been open
//
// and three string labels, usable with pprof's -tagfocus, -tagignore,
// -tagroot and -tagleaf:
//
//	otelguard.name    the lifetime's name (its span name)
//	otelguard.kind    guard, resource or scope
//	otelguard.state   a State: open, releasing, leaked or reported
//
// Locations carry their functions, files and lines, inlined calls expanded
// into one location's lines as runtime/pprof does, and the mappings of the
// program's executable text (read from /proc/self/maps where there is one),
// so pprof needs neither the binary nor a symbol server. When the Tracker
// captures no stacks (otelguard.LeakDetectionOn or LeakDetectionOff, or
// otelguard.WithStackDepth(-1)) every sample has one synthetic location,
// the function "otelguard: no acquire stack".
//
// # Package name
//
// The package is named debug, after its import path, as net/http/pprof is
// named pprof beside runtime/pprof. A file that also imports runtime/debug
// renames one of them:
//
//	import ogdebug "github.com/otelguard/otelguard-go/otelguard/debug"
package debug
