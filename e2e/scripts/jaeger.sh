#!/usr/bin/env bash
# Runs the Jaeger pinned in e2e/go.mod on this machine, in the foreground,
# with e2e/jaeger.yaml: in-memory storage, OTLP on 127.0.0.1:4317 (gRPC) and
# 127.0.0.1:4318 (HTTP), the query API on http://127.0.0.1:16686. This is
# what `make jaeger` runs; Ctrl-C stops it, and its traces with it.
#
# The binary is built from the Go module cache into the directory the e2e
# tests use ($OTELGUARD_E2E_CACHE, or otelguard-e2e under the user's cache
# directory): the first build takes minutes, later ones seconds.
#
# A Jaeger built from its Go module carries no UI (the UI is a JavaScript
# build that Jaeger's releases embed): its page on :16686 says so, and the
# query API works all the same. Point JAEGER_UI_ASSETS at a built jaeger-ui
# directory (e.g. the assets of the jaeger-ui release that Jaeger v1.76.0
# pins) to serve the real UI. The JAEGER_* variables in jaeger.yaml move
# the ports.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${OTELGUARD_E2E_CACHE:-}" ]; then # as Go's os.UserCacheDir, like the tests
  case "$(uname -s)" in
    Darwin) OTELGUARD_E2E_CACHE="$HOME/Library/Caches/otelguard-e2e" ;;
    *) OTELGUARD_E2E_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/otelguard-e2e" ;;
  esac
fi
bin="$OTELGUARD_E2E_CACHE/jaeger"
echo "building github.com/jaegertracing/jaeger/cmd/jaeger into $OTELGUARD_E2E_CACHE (the first build takes minutes)" >&2
GOWORK=off GOFLAGS=-buildvcs=false go build -o "$bin" github.com/jaegertracing/jaeger/cmd/jaeger

: "${JAEGER_QUERY_HTTP:=127.0.0.1:16686}"
cat >&2 <<MSG
Jaeger: OTLP on ${JAEGER_OTLP_GRPC:-127.0.0.1:4317} (gRPC) and ${JAEGER_OTLP_HTTP:-127.0.0.1:4318} (HTTP), UI and API on http://$JAEGER_QUERY_HTTP
Send it spans:
  OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/quickstart
  OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/service -selftest 5
Find the leaks: http://$JAEGER_QUERY_HTTP/api/traces?service=otelguard-service&tags={"otelguard.outcome":"leaked_without_close"}
MSG
export JAEGER_QUERY_HTTP
exec "$bin" --config jaeger.yaml
