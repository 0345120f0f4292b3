// Package e2e holds otelguard's end-to-end tests: the examples, built from
// this repository, export their spans over OTLP/HTTP to a real Jaeger, and
// the tests ask Jaeger's query API what it received.
//
// This is a module of its own so that Jaeger, pinned by the tool directive
// in go.mod, never reaches the library's dependency graph. The tests build
// Jaeger themselves (Jaeger v1.76.0 from the module proxy: about 4 minutes
// with a warm module cache, up to 25 cold on 2 cores; later builds take
// seconds) and start it on free ports of 127.0.0.1 with jaeger.yaml:
//
//	cd e2e && go test -race -count=1 -timeout 30m ./...
//
// JAEGER_BIN=/abs/path/to/jaeger (or a name on $PATH) starts a Jaeger v2
// binary of yours instead, with no build. The official Docker image is
// for make jaeger only (scripts/jaeger.sh): the tests suspend their
// Jaeger's process with SIGSTOP (TestJaegerOutage), which a docker run
// client does not pass on to the container.
//
// The Jaegers they start serve the Jaeger UI from a jaeger-ui build when
// there is one, found as scripts/ui.sh says (JAEGER_UI_ASSETS, else
// ../shared/jaeger-ui beside the repository): TestJaegerUI then walks the
// UI in headless Chromium; without one, it skips saying why, except under
// CI=true, where it fails (CI provides the build).
//
// Jaeger's log says "ui assets not embedded in the binary, using a
// placeholder" at every start of a Jaeger built from its Go module, even
// while it serves the jaeger-ui build: Jaeger v1.76.0's
// NewStaticAssetsHandler (cmd/query/app/static_handler.go) asks for the
// embedded assets, and ui.GetStaticFiles warns they are missing, before it
// replaces them with ui.assets_path. No setting avoids the call; the
// warning is harmless, and TestJaegerUI checks that the page served is the
// UI, not the placeholder.
//
// TestPostgresPoolExhausted runs pgservice (pgservice/, a module of its own:
// its doc says why), which starts a throwaway PostgreSQL server with the
// repository's internal/pgtest and exhausts its pool with a handler that
// leaks rows. It needs PostgreSQL's server binaries (Debian: apt-get install -y
// postgresql, which .ci/run does when they are missing) and fails without
// them.
//
// TestPgxPoolExhausted runs pgxservice (pgxservice/, a module of its own
// for the same reasons), a service on pgxpool watched by guardpgx, whose
// pool of two two handlers hold until a third request's acquire times out;
// Jaeger finds guardpgx's pool_exhausted finding by tag, naming both
// holders. It needs PostgreSQL's server binaries too.
//
// TestSpanNotEnded runs spansvc (spansvc/, a module of its own as
// pgxservice is), whose handler forgets span.End() on an error path, with
// otelguard/spanleak before its exporting processor: Jaeger finds one
// otelguard.finding=span_not_ended per request on that path, none for the
// others, each starting at the handler's tracer.Start line and linked to
// the hole in its request's trace; the span it holds until it exits is
// found open_at_shutdown.
//
// TestMissedCloseSearch checks the README's headline search,
// otelguard.missed_close=true: it finds every missed close
// examples/service made (leaked rows, leaked Content-Length and chunked
// bodies, rows and a transaction database/sql closed when their request
// ended), as many as the service counted, each naming its handler's line.
//
// The findings and tail-sampling tests run findingsvc (findingsvc/, a
// module of its own for the same reason as pgservice) and deploy/'s
// configurations as a user runs them, each Jaeger on free ports with
// Badger in a temporary directory: TestDeployConfigsStart starts each file;
// TestFindingsAtOnePercentHeadSampling runs examples/service at 1% head
// sampling and finds every finding it sent; TestHeldTooLongVisibleWhileOpen
// finds a held_too_long finding while its lifetime is open;
// TestTailSamplingKeepsFindingsAndBadOutcomes runs
// deploy/jaeger-tail-sampling.yaml with a 2 s decision wait and finds a
// leak found ten seconds late; TestTwoTiersSurviveStorageKill runs the
// collector and storage tiers and kills the storage with SIGKILL.
// TestScalingFigures measures docs/SCALING.md's figures and runs only with
// OTELGUARD_SCALING=1.
//
// -short skips them. The binary is kept in $OTELGUARD_E2E_CACHE, or in
// otelguard-e2e under the user's cache directory; scripts/jaeger.sh runs the
// same binary on the standard ports for a look at the examples' spans.
package e2e
