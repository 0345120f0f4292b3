#!/usr/bin/env bash
# Runs the Jaeger pinned in e2e/go.mod on this machine, in the foreground,
# with e2e/jaeger.yaml: in-memory storage, OTLP on 127.0.0.1:4317 (gRPC) and
# 127.0.0.1:4318 (HTTP), the UI and query API on http://127.0.0.1:16686.
# This is what `make jaeger` runs; Ctrl-C stops it, and its traces with it.
#
# The binary is built from the Go module cache into the directory the e2e
# tests use ($OTELGUARD_E2E_CACHE, or otelguard-e2e under the user's cache
# directory): the first build takes minutes, later ones seconds.
#
# The UI is served from JAEGER_UI_ASSETS when set, else from
# ../shared/jaeger-ui beside the repository when it exists (see ui.sh);
# without either, Jaeger built from its Go module serves only a placeholder
# page (the query API works all the same), and this says so and how to get
# the UI. The JAEGER_* variables in jaeger.yaml move the ports.
set -euo pipefail
. "$(dirname "$0")/ui.sh"
found=0
find_jaeger_ui || found=$? # before the cd: a relative JAEGER_UI_ASSETS is the caller's
[ "$found" != 2 ] || exit 2
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
leaks='{"otelguard.outcome":"leaked_without_close"}'
if [ "$found" = 0 ]; then
  serves="the UI (from $JAEGER_UI_ASSETS) and query API"
  look="Find the leaks: http://$JAEGER_QUERY_HTTP/search?service=otelguard-service&tags=$leaks"
else
  serves="the query API"
  look="Find the leaks: http://$JAEGER_QUERY_HTTP/api/traces?service=otelguard-service&tags=$leaks

NO UI: JAEGER_UI_ASSETS is unset and there is no ../shared/jaeger-ui beside the
repository, so http://$JAEGER_QUERY_HTTP shows Jaeger's placeholder page, not
the Jaeger UI; only the query API (/api/...) answers.
$ui_howto"
fi
cat >&2 <<MSG
Jaeger: OTLP on ${JAEGER_OTLP_GRPC:-127.0.0.1:4317} (gRPC) and ${JAEGER_OTLP_HTTP:-127.0.0.1:4318} (HTTP), $serves on http://$JAEGER_QUERY_HTTP
Send it spans:
  OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/quickstart
  OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/service -selftest 5
$look
MSG
export JAEGER_QUERY_HTTP
exec "$bin" --config jaeger.yaml
