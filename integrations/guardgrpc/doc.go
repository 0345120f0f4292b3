// Package guardgrpc makes the lifetimes of gRPC observable with otelguard:
// on the client, every stream is a watched lifetime, and a stream dropped
// unfinished is found and cancelled; on the server, every RPC reports what
// it left open when its handler returns.
//
// # Client: StreamClientInterceptor
//
// A client stream that its caller stops reading is a classic Go leak.
// gRPC finishes a stream only when RecvMsg returns an error (io.EOF at the
// end included), SendMsg or Header fails, the stream's context is done or
// the ClientConn closes. Until then the stream keeps a goroutine of gRPC's,
// its context and — with otelgrpc — a span that never ends. goleak sees an
// anonymous transport goroutine; Go's goroutine leak profile does not see
// a goroutine that waits on a channel gRPC itself still references.
//
//	cc, err := grpc.NewClient(target,
//		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
//		grpc.WithStreamInterceptor(guardgrpc.StreamClientInterceptor()))
//
// Each stream is then a lifetime named "grpc.client.stream", with
// rpc.system.name and rpc.method. It ends cleaned when gRPC finishes the
// stream, with rpc.response.status_code (OK, Canceled, NotFound, ...). A
// stream dropped unfinished is found by otelguard's leak detection when the
// garbage collector finds it unreachable: it ends leaked_without_close with
// the stack of the code that opened it, and its context is cancelled then,
// so that gRPC finishes it and its goroutine exits (WithoutReleaseOnLeak
// turns the cancel off). A stream whose context its owner cancelled, or
// whose ClientConn was closed, before it was dropped is finished, not
// leaked.
//
// What can and cannot be watched:
//
//	how the caller holds a client stream         what guardgrpc reports
//	read to io.EOF (CloseSend first or not)      cleaned, OK
//	read to an error status                      cleaned, that status
//	deadline passes while reading                cleaned, DeadlineExceeded
//	ctx cancelled by its owner, kept or dropped  cleaned, Canceled
//	ClientConn closed, stream kept or dropped    cleaned, Canceled
//	dropped after some messages, or before any   leaked_without_close, stack, ctx cancelled
//	dropped after an error status arrived unread leaked_without_close (unread: gRPC has not finished it)
//	kept, never finished (a struct, a goroutine  not a leak: open; a hold threshold
//	  blocked in RecvMsg on a silent server)       (otelguard.WithDefaultHoldThreshold) and Shutdown show it
//	unary call                                   nothing to watch: gRPC finishes it before Invoke returns
//	server side of a stream                      nothing to watch: gRPC ends it when the handler returns
//
// A dropped stream is judged when the collector finds it. A stream dropped
// while its context is still live, and cancelled a moment later (defer
// cancel() after the last use), is cleaned in practice — the cancel
// reaches guardgrpc through gRPC before a second collection could let the
// leak report through — but is not guaranteed to be: cancel first, or
// read to the end. With otelguard.WithLeakSampling, a stream whose
// acquisition is not sampled is not found when dropped; it stays open, as
// any lifetime dropped unwatched (see WithLeakSampling).
//
// # Server: UnaryServerInterceptor, StreamServerInterceptor
//
//	srv := grpc.NewServer(
//		grpc.StatsHandler(otelgrpc.NewServerHandler()),
//		grpc.UnaryInterceptor(guardgrpc.UnaryServerInterceptor()),
//		grpc.StreamInterceptor(guardgrpc.StreamServerInterceptor()))
//
// Each RPC's handler gets a context carrying the Tracker and an
// otelguard.Request. Every lifetime acquired with that context — client
// streams opened upstream through StreamClientInterceptor and HTTP
// response bodies through guardhttp.NewTransport included — belongs to the
// RPC; when the handler returns, each one still open is reported at once,
// deterministically, without waiting for a collection: a span event
// otelguard.request.outlived, a warning through the Tracker's logger and a
// count in otelguard.lifetime.outlived_request, labelled with
// rpc.system.name and rpc.method. Lifetimes meant to outlive the RPC are
// acquired with otelguard.OutlivesRequest(); a client stream so meant is
// opened with the call option OutlivesRequest() (and a context detached
// from the RPC's, or gRPC ends it with the RPC).
//
// # With otelgrpc
//
// Both compose with otelgrpc's stats handlers, whatever the order of the
// options. gRPC starts otelgrpc's client span inside the stream, after
// the interceptors have run, so a stream's lifetime is a sibling of
// otelgrpc's client span under the caller's span; a handler's lifetimes
// are children of otelgrpc's server span. Cancelling a dropped stream ends
// otelgrpc's client span too, which otherwise never ends.
//
// # Who calls what
//
// The interceptors are made once, when a client or server is built, and
// are safe for concurrent use. Nothing here blocks on an exporter or
// starts a goroutine per call. A stream's lifetime ends on the goroutine
// where gRPC finishes the stream: the caller's (RecvMsg, SendMsg, Header)
// or gRPC's own (context done, ClientConn closed); a leak is reported, and
// its stream cancelled, on a goroutine of otelguard's.
//
// # Cost
//
// Measured over loopback with every span recorded (BenchmarkPairGRPC, two
// sessions of 12 paired runs on a shared 2-core machine): a unary call
// through the server interceptor costs nothing measurable beside otelgrpc
// alone (+6 allocations); a 10-message stream watched on the client and
// served through the stream interceptor measured 0.98× and 1.29× otelgrpc
// alone (median paired ratios; +37 allocations, +3.8 KB).
// docs/guardgrpc.md has the table and the command.
package guardgrpc
