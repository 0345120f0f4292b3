# otelguard: everything CI runs is `make test`.
#
# The library (root module), the examples (their own module, joined by
# go.work), the end-to-end tests against a real Jaeger (e2e/, a module of
# its own so that Jaeger's dependencies never reach the library's go.mod),
# and the otelguardcheck analyzer (a module of its own so that
# golang.org/x/tools never reaches it either), which lint runs over them all.

GO          ?= go
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# The library is tested against its own go.mod, as its users build it.
ROOT := GOWORK=off $(GO)

.PHONY: test lint vet staticcheck otelguardcheck unit integrations examples e2e bench jaeger screenshot

## test: vet, staticcheck, the race-enabled unit tests, the integrations, the examples, e2e
test: lint unit integrations examples e2e

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
otelguardcheck:
	cd otelguardcheck && $(GO) test -race -count=1 ./...
	cd otelguardcheck && $(GO) build -o $(OTELGUARDCHECK) ./cmd/otelguardcheck
	@for m in $(MODULES); do echo "go vet -vettool=otelguardcheck ./... in $$m"; ($(IN_MODULE) $(GO) vet -vettool=$(OTELGUARDCHECK) ./...) || exit 1; done

## unit: the library's tests, with the race detector (fuzz seeds included)
unit:
	$(ROOT) test -race -count=1 ./...

## integrations: each module under integrations/ (its own go.mod, as
## OpenTelemetry's contrib instrumentations are), its race-enabled tests
## against its own go.mod; a module added there is tested without an edit here
INTEGRATIONS = $(shell find integrations -mindepth 2 -maxdepth 2 -name go.mod 2>/dev/null | xargs -rn1 dirname | sort)
integrations:
	@for m in $(INTEGRATIONS); do echo "go test -race ./... in $$m"; (cd $$m && GOWORK=off $(GO) test -race -count=1 ./...) || exit 1; done

## examples: the examples' tests, and each example run to completion
examples:
	cd examples && $(GO) test -race -count=1 ./...
	@for ex in $$(cd examples && ls -d */ | tr -d /); do \
		if [ "$$ex" = service ]; then continue; fi; \
		echo "go run ./examples/$$ex"; \
		$(GO) run ./examples/$$ex > /dev/null || exit 1; \
	done

## bench: the benchmarks beside their baselines, compared by benchstat.
## The test binary is built once and run BENCHCOUNT times, one -count each,
## so a baseline and what it is compared with alternate in time and share
## the VM's drift instead of one of them getting all of a slow minute.
BENCHCOUNT ?= 10
BENCHTIME  ?= 500ms
BENCHES    := Lifecycle|Guard|Noop|Unsampled|Metrics|Touch|LeakFound
bench:
	mkdir -p .bench
	$(ROOT) test -c -o .bench/otelguard.test ./otelguard/
	rm -f .bench/bench.txt .bench/shutdown.txt .bench/memory.txt
	cd otelguard && for i in $$(seq $(BENCHCOUNT)); do \
		../.bench/otelguard.test -test.run '^$$' -test.bench '$(BENCHES)' \
			-test.benchmem -test.benchtime $(BENCHTIME) -test.timeout 60m | tee -a ../.bench/bench.txt || exit 1; \
	done
	cd otelguard && for i in 1 2 3; do \
		../.bench/otelguard.test -test.run '^$$' -test.bench 'ShutdownMillion|MemoryPerOpen' \
			-test.benchmem -test.benchtime 1x -test.timeout 60m | tee -a ../.bench/shutdown.txt || exit 1; \
	done
	@for f in Lifecycle LifecycleParallel Guard Noop Unsampled; do \
		echo; echo "== $$f (baseline first)"; \
		$(BENCHSTAT) -filter ".name:$$f" -col /impl .bench/bench.txt; \
	done
	@echo; echo "== Paired ratios (sample i of each impl against sample i of its baseline)"; \
		$(ROOT) run ./internal/cmd/benchratio .bench/bench.txt
	@echo; echo "== Metrics"; $(BENCHSTAT) -filter ".name:Metrics" -col /metrics .bench/bench.txt
	@echo; echo "== Touch"; $(BENCHSTAT) -filter ".name:Touch" -col /level .bench/bench.txt
	@echo; echo "== LeakFound"; $(BENCHSTAT) -filter ".name:LeakFound" .bench/bench.txt
	@echo; echo "== ShutdownMillion"; $(BENCHSTAT) -filter ".name:ShutdownMillion" -col /impl .bench/shutdown.txt
	@echo; echo "== MemoryPerOpen (heap-B/open: otelguard minus rawspan is the cost per lifetime)"; \
		$(BENCHSTAT) -filter ".name:MemoryPerOpen" -col /impl .bench/shutdown.txt

## jaeger: build the pinned Jaeger and run it on 127.0.0.1 (4317, 4318, 16686),
## serving the UI from JAEGER_UI_ASSETS or ../shared/jaeger-ui (placeholder without)
jaeger:
	e2e/scripts/jaeger.sh

## screenshot: docs/jaeger-leak.png and docs/jaeger-search.png, the Jaeger UI as
## headless Chromium walks it (needs a jaeger-ui build, as make jaeger)
screenshot:
	e2e/scripts/screenshot.sh

## e2e: end-to-end tests against a Jaeger built from the pinned module; with a
## jaeger-ui build (as make jaeger finds it) and Chromium, a browser test of the UI
e2e:
	@if [ -f e2e/go.mod ]; then cd e2e && $(GO) test -race -count=1 -timeout 30m ./...; else echo "no e2e module"; fi
