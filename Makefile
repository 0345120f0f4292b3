# otelguard: everything CI runs is `make test`; `make check` is the fast
# check to run before a commit (CONTRIBUTING.md says when to run which).
#
# The library (root module), the examples (their own module, joined by
# go.work), the end-to-end tests against a real Jaeger (e2e/, a module of
# its own so that Jaeger's dependencies never reach the library's go.mod),
# and the otelguardcheck analyzer (a module of its own so that
# golang.org/x/tools never reaches it either), which lint runs over them all.

# Every recipe runs in bash with -e and pipefail: in `cmd | tee file` the
# status is cmd's, not tee's, and a command that fails inside a loop fails
# the target. A failed benchmark must fail make bench, not drop a sample.
SHELL       := bash
.SHELLFLAGS := -e -o pipefail -c

GO          ?= go
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# The library is tested against its own go.mod, as its users build it.
ROOT := GOWORK=off $(GO)

.PHONY: test test-all check check-all skips skipreport lint vet staticcheck otelguardcheck unit integrations test-go127 test-checkfinalizers benchonce examples examples-test e2e bench bench-bin bench-ops bench-shutdown bench-memory bench-integrations bench-pairs jaeger screenshot

# Every go test that make runs has a -timeout for each test binary (each
# package), so that a hang fails in minutes, its goroutines dumped under
# the test's name, instead of at go test's default of 10 minutes or at
# CI's limit. The race-enabled unit tests of the slowest package (the
# core, otelguard/) take about 40 s on a 2-core machine; e2e builds and
# runs the examples and Jaeger's, and BENCHONCE runs the benchmarks that
# hold a million lifetimes.
UNIT_TIMEOUT  ?= 5m
BENCH_TIMEOUT ?= 10m
E2E_TIMEOUT   ?= 30m
# RUN_TIMEOUT bounds each example that make examples runs (with timeout(1),
# where there is one: coreutils).
RUN_TIMEOUT   ?= 2m

# Every go test that make runs writes go test -json into .test-output/
# through skipreport (internal/cmd/skipreport), which prints what go test
# prints without -json, and keeps the JSON for `make skips`: the summary
# of every skipped test and its reason, with which make test and make check
# end. GOTEST is `go test -json`; TO_JSON NAME is the pipe that follows
# it: ... | $(call TO_JSON,unit) keeps .test-output/unit.json.
TESTOUT    := $(CURDIR)/.test-output
SKIPREPORT := $(CURDIR)/bin/skipreport
GOTEST      = $(GO) test -json
TO_JSON     = $(SKIPREPORT) -o $(TESTOUT)/$(1).json

## test: everything CI runs (.ci/run): lint, the race-enabled unit tests,
## the integrations, the Go 1.27 leg, the core under
## GODEBUG=checkfinalizers=1, every benchmark once, the examples, e2e
## (Jaeger, PostgreSQL, and with a jaeger-ui build, Chromium); then the
## summary of every skipped test and why, whether it passed or failed
test:
	@rm -rf $(TESTOUT)
	@status=0; $(MAKE) --no-print-directory test-all || status=$$?; \
		echo; $(MAKE) --no-print-directory skips; exit $$status
test-all: lint unit integrations test-go127 test-checkfinalizers benchonce examples e2e

## check: the fast check, before a commit: go vet, staticcheck,
## otelguardcheck, and the race-enabled unit tests of every module but e2e
## (the library, the integrations, the examples' tests, the analyzer) —
## no Jaeger, Chromium or PostgreSQL: OTELGUARD_SKIP_POSTGRES=1 switches the
## PostgreSQL tests off, and each says so in the summary. About 2 to 3
## minutes on a warm 2-core machine.
check: export OTELGUARD_SKIP_POSTGRES := 1
check:
	@rm -rf $(TESTOUT)
	@echo "make check: the PostgreSQL tests are switched off (OTELGUARD_SKIP_POSTGRES=1); make test runs them"
	@status=0; start=$$SECONDS; $(MAKE) --no-print-directory check-all || status=$$?; \
		echo; $(MAKE) --no-print-directory skips; \
		echo "make check: $$((SECONDS - start)) s, $$([ $$status = 0 ] && echo passed || echo FAILED)"; exit $$status
check-all: lint unit integrations examples-test

## skips: every test skipped in the go test runs that left their JSON in
## .test-output/ (make test, make check, or single targets), with its reason
skips: skipreport
	@shopt -s nullglob; files=($(TESTOUT)/*.json); \
		if [ $${#files[@]} = 0 ]; then echo "make skips: no test output in $(TESTOUT)"; exit 0; fi; \
		$(SKIPREPORT) $$(ls -tr "$${files[@]}")

skipreport:
	@mkdir -p $(TESTOUT)
	@$(ROOT) build -o $(SKIPREPORT) ./internal/cmd/skipreport

## lint: go vet, staticcheck and otelguardcheck over every module
lint: vet staticcheck otelguardcheck

# MODULES is every module in the tree (a directory with a go.mod; testdata
# and hidden directories aside), found on each run so that a module added
# later is linted without an edit here. IN_MODULE starts a command in the
# module $$m as that module is built: with its own go.work if it has one (e2e,
# otelguardcheck), else against its own go.mod alone (the library as its
# users build it, examples through their replace of the library).
MODULES   = $(shell find . -name go.mod -not -path '*/testdata/*' -not -path '*/.*/*' | xargs -n1 dirname | sort)
IN_MODULE = cd $$m && if [ "$$m" != . ] && [ -f go.work ]; then export GOWORK="$$PWD/go.work"; else export GOWORK=off; fi &&

vet:
	@for m in $(MODULES); do echo "go vet ./... in $$m"; ($(IN_MODULE) $(GO) vet ./...) || exit 1; done

staticcheck:
	@for m in $(MODULES); do echo "staticcheck ./... in $$m"; ($(IN_MODULE) $(STATICCHECK) ./...) || exit 1; done

## otelguardcheck: the analyzer's own tests (race-enabled), then the analyzer
## as go vet's vettool over every module: it lints only once its tests pass
OTELGUARDCHECK := $(CURDIR)/bin/otelguardcheck
otelguardcheck: skipreport
	cd otelguardcheck && $(GOTEST) -race -count=1 -timeout $(UNIT_TIMEOUT) ./... | $(call TO_JSON,otelguardcheck)
	cd otelguardcheck && $(GO) build -o $(OTELGUARDCHECK) ./cmd/otelguardcheck
	@for m in $(MODULES); do echo "go vet -vettool=otelguardcheck ./... in $$m"; ($(IN_MODULE) $(GO) vet -vettool=$(OTELGUARDCHECK) ./...) || exit 1; done

## unit: the library's tests, with the race detector (fuzz seeds included)
unit: skipreport
	GOWORK=off $(GOTEST) -race -count=1 -timeout $(UNIT_TIMEOUT) ./... | $(call TO_JSON,unit)

## integrations: each module under integrations/ (its own go.mod, as
## OpenTelemetry's contrib instrumentations are), its race-enabled tests
## against its own go.mod; a module added there is tested without an edit here
## (today integrations/guardgrpc, guardhttp, guardpgx and guardsql). A module that fails does not stop the others: the
## target fails once all have run.
INTEGRATIONS = $(shell find integrations -mindepth 2 -maxdepth 2 -name go.mod 2>/dev/null | xargs -rn1 dirname | sort)
integrations: skipreport
	@status=0; for m in $(INTEGRATIONS); do echo "go test -race ./... in $$m"; \
		(cd $$m && GOWORK=off $(GOTEST) -race -count=1 -timeout $(UNIT_TIMEOUT) ./... | $(call TO_JSON,integration-$$(basename $$m))) || status=1; done; exit $$status

## test-go127: the library's and the integrations' race-enabled unit tests
## on the next Go, GO127, which the go command fetches from the module proxy
## (GOTOOLCHAIN; about 10 s the first time, cached after); the go directive
## stays 1.26.0. It fails unless `go env GOVERSION` under it is GO127.
GO127 ?= go1.27.3
test-go127: skipreport
	@v=$$(GOTOOLCHAIN=$(GO127) $(GO) env GOVERSION); echo "test-go127: $$(GOTOOLCHAIN=$(GO127) $(GO) version)"; \
		[ "$$v" = $(GO127) ] || { echo "test-go127: GOTOOLCHAIN=$(GO127) runs $$v, not $(GO127)" >&2; exit 1; }
	GOTOOLCHAIN=$(GO127) GOWORK=off $(GOTEST) -race -count=1 -timeout $(UNIT_TIMEOUT) ./... | $(call TO_JSON,go127-unit)
	@status=0; for m in $(INTEGRATIONS); do echo "GOTOOLCHAIN=$(GO127) go test -race ./... in $$m"; \
		(cd $$m && GOTOOLCHAIN=$(GO127) GOWORK=off $(GOTEST) -race -count=1 -timeout $(UNIT_TIMEOUT) ./... | $(call TO_JSON,go127-integration-$$(basename $$m))) || status=1; done; exit $$status

## test-checkfinalizers: the core's tests (./otelguard/...) under
## GODEBUG=checkfinalizers=1: at each GC the runtime checks that no cleanup
## or finalizer can reach the object it is attached to (one that can never
## runs: leak detection would miss the leak), and ends the test binary with
## "detected possible issues with cleanups and/or finalizers" if one can.
## GODEBUG reaches the test binaries (and the processes they start) through
## -exec, not the compiler. Without the race detector (unit has it): about
## 12 s on 2 cores, 45 s with it. CHECKFINALIZERS_SKIP (empty: none) leaves
## out, saying so, tests that cannot pass under it.
CHECKFINALIZERS_SKIP ?=
test-checkfinalizers: skipreport
	@if [ -n '$(CHECKFINALIZERS_SKIP)' ]; then echo "test-checkfinalizers: left out (-skip): $(CHECKFINALIZERS_SKIP): its child's stderr must be empty, and checkfinalizers writes there"; fi
	GOWORK=off $(GOTEST) -count=1 -timeout $(UNIT_TIMEOUT) -exec 'env GODEBUG=checkfinalizers=1' -skip '$(CHECKFINALIZERS_SKIP)' ./otelguard/... | $(call TO_JSON,checkfinalizers)
	@# what -skip left out, in the summary of skips as a skip of its own
	@if [ -n '$(CHECKFINALIZERS_SKIP)' ]; then \
		printf '{"Action":"output","Package":"(make test-checkfinalizers)","Test":"%s","Output":"left out by CHECKFINALIZERS_SKIP: its child must write nothing to stderr, and GODEBUG=checkfinalizers=1 writes a queue line there at each GC\\n"}\n{"Action":"skip","Package":"(make test-checkfinalizers)","Test":"%s"}\n' \
			'$(CHECKFINALIZERS_SKIP)' '$(CHECKFINALIZERS_SKIP)' >> $(TESTOUT)/checkfinalizers.json; fi

## benchonce: every benchmark of every module, one iteration each, so that
## benchmark code cannot rot unseen and the checks benchmarks make run in
## CI (BenchmarkLeakFound fails if a leak takes more than 2 GC cycles to be
## found; BenchmarkMemoryPerOpen if the runtime's memory classes no longer
## add up). No race detector: unit runs the tests under it, and here it
## would only slow the million-lifetime benchmarks. e2e runs with -short so
## that its TestMain does not build and start Jaeger for benchmarks it does
## not have.
BENCHONCE := -count=1 -run '^$$' -bench . -benchtime 1x -timeout $(BENCH_TIMEOUT)
benchonce: skipreport
	@for m in $(MODULES); do short=; if [ "$$m" = ./e2e ]; then short=-short; fi; \
		echo "go test $$short -bench . -benchtime 1x ./... in $$m"; \
		($(IN_MODULE) $(GOTEST) $$short $(BENCHONCE) ./... | $(call TO_JSON,bench-$$(echo $$m | sed 's|^\./||; s|^\.$$|root|; s|/|-|g'))) || exit 1; done

## examples: the examples' tests, and each example run to completion
## (each within RUN_TIMEOUT)
examples: examples-test
	@bound=; if command -v timeout >/dev/null; then bound="timeout $(RUN_TIMEOUT)"; fi; \
	for ex in $$(cd examples && ls -d */ | tr -d /); do \
		if [ "$$ex" = service ]; then continue; fi; \
		echo "run ./examples/$$ex"; \
		$(GO) build -o bin/example-$$ex ./examples/$$ex; \
		$$bound bin/example-$$ex > /dev/null || { echo "examples/$$ex failed (or ran past $(RUN_TIMEOUT))" >&2; exit 1; }; \
	done

## examples-test: the examples' tests, race-enabled
examples-test: skipreport
	cd examples && $(GOTEST) -race -count=1 -timeout $(UNIT_TIMEOUT) ./... | $(call TO_JSON,examples)

## bench: every figure of docs/PERFORMANCE.md, measured by bench-ops,
## bench-shutdown, bench-memory, bench-integrations and bench-pairs in turn
## (about 13 minutes on a quiet 2-core VM; each prints its tables, and
## leaves its raw results in .bench/ for benchstat and benchratio with
## other filters). Run it with nothing else running on the machine.
bench:
	@$(MAKE) --no-print-directory bench-ops
	@$(MAKE) --no-print-directory bench-shutdown
	@$(MAKE) --no-print-directory bench-memory
	@$(MAKE) --no-print-directory bench-integrations
	@$(MAKE) --no-print-directory bench-pairs

BENCHBIN := .bench/otelguard.test
bench-bin:
	mkdir -p .bench
	$(ROOT) test -c -o $(BENCHBIN) ./otelguard/

## bench-ops: the per-operation benchmarks beside their baselines. The test
## binary is built once and run BENCHCOUNT times (after a `run: N` line in
## .bench/bench.txt); in each run every sub-benchmark of OPS_FAMILIES
## (found by a one-iteration listing first) is measured in a process of its
## own, a family's sub-benchmarks one after the other, in the order of the
## code in odd runs and reversed in even ones: a baseline and what it is
## compared with are measured seconds apart and share the VM's drift, and
## neither always runs first (what one process or sub-benchmark leaves the
## next cancels in the geometric mean instead of biasing it, as in
## bench-shutdown). benchratio pairs them run by run; benchstat's tables
## ignore the run.
BENCHCOUNT   ?= 10
BENCHTIME    ?= 500ms
OPS_FAMILIES := Lifecycle LifecycleMetricsOn LifecycleParallel Noop Unsampled Guard Metrics Touch
bench-ops: bench-bin
	rm -f .bench/bench.txt
	cd otelguard && declare -A subs && for f in $(OPS_FAMILIES); do \
		subs[$$f]=$$(../$(BENCHBIN) -test.run '^$$' -test.bench "^Benchmark$$f\$$" -test.benchtime 1x -test.cpu 1 \
			| sed -n -E "s|^Benchmark$$f/([^[:space:]]+)[[:space:]].*|\1|p"); \
		if [ -z "$${subs[$$f]}" ]; then echo "bench-ops: Benchmark$$f lists no sub-benchmark" >&2; exit 1; fi; \
	done; \
	for i in $$(seq $(BENCHCOUNT)); do \
		echo "run: $$i" | tee -a ../.bench/bench.txt; \
		for f in $(OPS_FAMILIES); do \
			order=$${subs[$$f]}; \
			if [ $$((i % 2)) = 0 ]; then order=$$(echo "$$order" | tac); fi; \
			for s in $$order; do \
				../$(BENCHBIN) -test.run '^$$' -test.bench "^Benchmark$$f\$$/^$$s\$$" \
					-test.benchmem -test.benchtime $(BENCHTIME) -test.timeout 60m | tee -a ../.bench/bench.txt; \
			done; \
		done; \
		../$(BENCHBIN) -test.run '^$$' -test.bench '^BenchmarkLeakFound$$' \
			-test.benchmem -test.benchtime $(BENCHTIME) -test.timeout 60m | tee -a ../.bench/bench.txt; \
	done
	@for f in Lifecycle LifecycleMetricsOn LifecycleParallel Guard Noop Unsampled; do \
		echo; echo "== $$f"; \
		$(BENCHSTAT) -ignore run -filter ".name:$$f" -col /impl .bench/bench.txt; \
	done
	@echo; echo "== Paired ratios (each impl against its baseline in the same run)"; \
		$(ROOT) run ./internal/cmd/benchratio .bench/bench.txt
	@echo; echo "== Metrics"; $(BENCHSTAT) -ignore run -filter ".name:Metrics" -col /metrics .bench/bench.txt
	@echo; echo "== Touch"; $(BENCHSTAT) -ignore run -filter ".name:Touch" -col /level .bench/bench.txt
	@echo; echo "== LeakFound"; $(BENCHSTAT) -ignore run -filter ".name:LeakFound" .bench/bench.txt

## bench-shutdown: BenchmarkShutdownMillion, each implementation in a
## process of its own (a million open lifetimes leave a heap of more than
## a gigabyte: a second measurement in the same process measures what the
## first left). SHUTDOWNCOUNT runs of two processes, the baseline first in
## odd runs and last in even ones, so that neither always follows the
## other; benchratio pairs the two of each run.
SHUTDOWNCOUNT ?= 10
bench-shutdown: bench-bin
	rm -f .bench/shutdown.txt
	cd otelguard && for i in $$(seq $(SHUTDOWNCOUNT)); do \
		impls="rawspans-sameattrs otelguard"; \
		if [ $$((i % 2)) = 0 ]; then impls="otelguard rawspans-sameattrs"; fi; \
		echo "run: $$i" | tee -a ../.bench/shutdown.txt; \
		for impl in $$impls; do \
			../$(BENCHBIN) -test.run '^$$' -test.bench "^BenchmarkShutdownMillion\$$/^impl=$$impl\$$" \
				-test.benchmem -test.benchtime 1x -test.timeout 60m | tee -a ../.bench/shutdown.txt; \
		done; \
	done
	@echo; echo "== ShutdownMillion (each impl in its own process)"; \
		$(BENCHSTAT) -ignore run -col /impl .bench/shutdown.txt
	@echo; echo "== ShutdownMillion, paired by run: time"; \
		$(ROOT) run ./internal/cmd/benchratio .bench/shutdown.txt
	@echo; echo "== ShutdownMillion, paired by run: peak heap"; \
		$(ROOT) run ./internal/cmd/benchratio -unit peak-heap-MiB .bench/shutdown.txt

## bench-memory: BenchmarkMemoryPerOpen, MEMORYCOUNT samples; each
## measures a raw span and a lifetime in fresh processes of their own.
MEMORYCOUNT ?= 10
bench-memory: bench-bin
	cd otelguard && ../$(BENCHBIN) -test.run '^$$' -test.bench '^BenchmarkMemoryPerOpen$$' \
		-test.benchtime 1x -test.count $(MEMORYCOUNT) -test.timeout 30m | tee ../.bench/memory.txt
	@echo; echo "== MemoryPerOpen (beyond-span-B/open is what the target, at most 320 B, is about)"; \
		$(BENCHSTAT) .bench/memory.txt

## bench-integrations: guardhttp's, guardsql's and guardgrpc's benchmarks
## beside their baselines (the bare transport, handler or driver, and the
## same with one raw span; otelgrpc alone for guardgrpc), as bench-ops
## measures the core's: each test binary built once and run BENCHCOUNT times, both after the same `run: N` line in
## .bench/integrations.txt, paired run by run. BenchmarkPostgresSelect
## starts a PostgreSQL server on 127.0.0.1 in each run (skipped only where
## pgtest finds no server binaries and CI is not true; failed otherwise).
INTEGRATION_BENCHES := 'guardhttp:^Benchmark(Transport|TransportOwn|Handler|HandlerLifetime|HandlerServeHTTP)$$' 'guardsql:^Benchmark(Select|Tx|PostgresSelect)$$'
bench-integrations:
	mkdir -p .bench
	for m in guardhttp guardsql; do \
		(cd integrations/$$m && GOWORK=off $(GO) test -c -o ../../.bench/$$m.test .); \
	done
	rm -f .bench/integrations.txt
	for i in $$(seq $(BENCHCOUNT)); do \
		echo "run: $$i" | tee -a .bench/integrations.txt; \
		for mb in $(INTEGRATION_BENCHES); do \
			m=$${mb%%:*}; \
			(cd integrations/$$m && ../../.bench/$$m.test -test.run '^$$' -test.bench "$${mb#*:}" \
				-test.benchmem -test.benchtime $(BENCHTIME) -test.timeout 30m) | tee -a .bench/integrations.txt; \
		done; \
	done
	@for f in Transport TransportOwn Handler HandlerLifetime HandlerServeHTTP Select Tx PostgresSelect; do \
		echo; echo "== $$f (baseline first)"; \
		$(BENCHSTAT) -ignore run,pkg -filter ".name:$$f" -col /impl .bench/integrations.txt; \
	done
	@echo; echo "== Paired ratios (each impl against the bare baseline of the same run)"; \
		$(ROOT) run ./internal/cmd/benchratio .bench/integrations.txt

## bench-pairs: every integration module's BenchmarkPair* (issue 29: the
## integration over the OpenTelemetry instrumentation users already run,
## against that instrumentation alone, each named
## BenchmarkPair<Name>/metrics=<on|off>/impl=<baseline|guarded>), found by
## their names as INTEGRATIONS finds the modules, so that a module that adds
## pairs is measured without an edit here. Each module's test binary is
## built once and run BENCHCOUNT times, all after the same `run: N` line in
## .bench/pairs.txt, with BENCH_PAIR_ORDER=baseline-first in odd runs and
## guarded-first in even ones (the pairs run their two sides in that
## order); benchratio pairs the sides run by run against the target,
## guarded ≤ 1.10× baseline. The PostgreSQL pairs start a server on
## 127.0.0.1 in each run, as bench-integrations does.
PAIR_MODULES = $(shell grep -l '^func BenchmarkPair' integrations/*/*_test.go 2>/dev/null | xargs -rn1 dirname | sort -u)
PAIRS_TARGET ?= 1.10
bench-pairs:
	@test -n "$(PAIR_MODULES)" || { echo "bench-pairs: no module under integrations/ has a BenchmarkPair" >&2; exit 1; }
	mkdir -p .bench
	for m in $(PAIR_MODULES); do \
		(cd $$m && GOWORK=off $(GO) test -c -o ../../.bench/pairs-$$(basename $$m).test .); \
	done
	rm -f .bench/pairs.txt
	for i in $$(seq $(BENCHCOUNT)); do \
		order=baseline-first; if [ $$((i % 2)) = 0 ]; then order=guarded-first; fi; \
		echo "run: $$i" | tee -a .bench/pairs.txt; \
		for m in $(PAIR_MODULES); do \
			(cd $$m && BENCH_PAIR_ORDER=$$order ../../.bench/pairs-$$(basename $$m).test -test.run '^$$' -test.bench '^BenchmarkPair' \
				-test.benchmem -test.benchtime $(BENCHTIME) -test.timeout 30m) | tee -a .bench/pairs.txt; \
		done; \
	done
	@echo; echo "== Pairs: absolute figures (benchstat medians over the runs)"; \
		$(BENCHSTAT) -ignore run -col /impl .bench/pairs.txt
	@echo; echo "== Pairs: guarded / baseline, paired by run, against the target"; \
		$(ROOT) run ./internal/cmd/benchratio -target $(PAIRS_TARGET) .bench/pairs.txt
	@echo; echo "== Pairs: allocations, guarded / baseline"; \
		$(ROOT) run ./internal/cmd/benchratio -unit allocs/op .bench/pairs.txt

## jaeger: run a Jaeger on 127.0.0.1 (4317, 4318, 16686): JAEGER_BIN when set,
## else the official image jaegertracing/jaeger:2.13.0 when a Docker engine
## answers, else the pinned Jaeger, built (~4 min warm, up to 25 min cold on
## 2 cores; said before it starts); serving the UI from JAEGER_UI_ASSETS or
## ../shared/jaeger-ui (a built Jaeger shows a placeholder without either)
jaeger:
	e2e/scripts/jaeger.sh

## screenshot: docs/jaeger-leak.png and docs/jaeger-search.png, the Jaeger UI as
## headless Chromium walks it (needs a jaeger-ui build, as make jaeger)
screenshot:
	e2e/scripts/screenshot.sh

## e2e: end-to-end tests against a Jaeger built from the pinned module (or
## JAEGER_BIN's: no build); with a jaeger-ui build (as make jaeger finds it)
## and Chromium, a browser test of the UI; against a throwaway PostgreSQL
## (its server binaries needed: .ci/run installs them). e2e/findingsvc,
## e2e/pgservice, e2e/pgxservice and e2e/spansvc, modules of their own with
## no tests of their own, are the programs the e2e tests build and run (and
## lint and benchonce cover, as every module MODULES finds)
e2e: skipreport
	@test -f e2e/go.mod || { echo "e2e: e2e/go.mod is missing: the end-to-end tests are part of make test" >&2; exit 1; }
	cd e2e && $(GOTEST) -race -count=1 -timeout $(E2E_TIMEOUT) ./... | $(call TO_JSON,e2e)
