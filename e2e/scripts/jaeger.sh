#!/usr/bin/env bash
# Runs a Jaeger v2 on this machine, in the foreground, with e2e/jaeger.yaml:
# in-memory storage, OTLP on 127.0.0.1:4317 (gRPC) and 127.0.0.1:4318
# (HTTP), the UI and query API on http://127.0.0.1:16686.
# This is what `make jaeger` runs; Ctrl-C stops it, and its traces with it.
#
# Which Jaeger, in this order:
#   1. JAEGER_BIN=/path/to/jaeger: a Jaeger v2 binary of yours (a release's,
#      or one built before); nothing is built.
#   2. The official image jaegertracing/jaeger:2.13.0 (the release of the
#      Jaeger v1.76.0 that e2e/go.mod pins), when a Docker engine answers
#      (docker info) and JAEGER_DOCKER is not 0. The image embeds the UI.
#   3. The Jaeger pinned in e2e/go.mod, built from the Go module cache into
#      the directory the e2e tests use ($OTELGUARD_E2E_CACHE, or
#      otelguard-e2e under the user's cache directory): ~4 min with a warm
#      module cache, up to 25 min cold on 2 cores; later runs take seconds.
#
# The UI is served from JAEGER_UI_ASSETS when set, else from
# ../shared/jaeger-ui beside the repository when it exists (see ui.sh);
# without either, a Jaeger built from its Go module serves only a
# placeholder page (the query API works all the same), and this says so
# and how to get the UI. Such a Jaeger logs "ui assets not embedded in the
# binary, using a placeholder" at start even when it serves the UI from
# JAEGER_UI_ASSETS: Jaeger v1.76.0 looks at its embedded assets (and warns)
# before it reads ui.assets_path, so the warning is expected and harmless
# (cmd/query/app/static_handler.go, NewStaticAssetsHandler). The JAEGER_*
# variables in jaeger.yaml move the ports.
set -euo pipefail
. "$(dirname "$0")/ui.sh"
found=0
find_jaeger_ui || found=$? # before the cd: a relative JAEGER_UI_ASSETS is the caller's
[ "$found" != 2 ] || exit 2
if [ -n "${JAEGER_BIN:-}" ]; then # before the cd too
  if ! b="$(command -v "$JAEGER_BIN")"; then
    echo "JAEGER_BIN=$JAEGER_BIN is not an executable" >&2
    exit 2
  fi
  JAEGER_BIN="$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"
fi
cd "$(dirname "$0")/.."

if [ -z "${OTELGUARD_E2E_CACHE:-}" ]; then # as Go's os.UserCacheDir, like the tests
  case "$(uname -s)" in
    Darwin) OTELGUARD_E2E_CACHE="$HOME/Library/Caches/otelguard-e2e" ;;
    *) OTELGUARD_E2E_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/otelguard-e2e" ;;
  esac
fi
# docker_works tells whether a Docker engine answers (a client alone does
# not do: docker info asks the engine).
docker_works() {
  command -v docker >/dev/null && docker info >/dev/null 2>&1
}

image=jaegertracing/jaeger:2.13.0
embedded="Jaeger's placeholder page"
if [ -n "${JAEGER_BIN:-}" ]; then
  bin=$JAEGER_BIN
  how="JAEGER_BIN=$bin"
  embedded="what the binary embeds (a release's: the UI; one built from the Go module: a placeholder page)"
elif [ "${JAEGER_DOCKER:-}" != 0 ] && docker_works; then
  bin=
  how="the image $image; JAEGER_DOCKER=0 builds Jaeger instead"
  if [ "$found" != 0 ]; then
    found=0 JAEGER_UI_ASSETS="the image's own build" # the image embeds the UI
  fi
else
  bin="$OTELGUARD_E2E_CACHE/jaeger"
  if [ -x "$bin" ]; then
    echo "checking $bin is up to date (seconds; a rebuild after a change of Go or of e2e/go.mod costs minutes)" >&2
  else
    echo "building Jaeger v1.76.0 from the module proxy: ~4 min warm cache, up to 25 min cold on 2 cores, into $OTELGUARD_E2E_CACHE" >&2
    echo "(JAEGER_BIN=/path/to/jaeger runs a Jaeger v2 of yours instead; with a Docker engine, the official image runs)" >&2
  fi
  start=$SECONDS
  GOWORK=off GOFLAGS=-buildvcs=false go build -o "$bin" github.com/jaegertracing/jaeger/cmd/jaeger
  echo "Jaeger ready in $((SECONDS - start)) s" >&2
  how="a Jaeger built from e2e/go.mod's pin ($bin)"
fi

: "${JAEGER_QUERY_HTTP:=127.0.0.1:16686}"
leaks='{"otelguard.outcome":"leaked_without_close"}'
if [ "$found" = 0 ]; then
  serves="the UI (from $JAEGER_UI_ASSETS) and query API"
  look="Find the leaks: http://$JAEGER_QUERY_HTTP/search?service=otelguard-service&tags=$leaks"
else
  serves="the query API"
  look="Find the leaks: http://$JAEGER_QUERY_HTTP/api/traces?service=otelguard-service&tags=$leaks

NO UI BUILD: JAEGER_UI_ASSETS is unset and there is no ../shared/jaeger-ui beside
the repository, so http://$JAEGER_QUERY_HTTP shows $embedded;
the query API (/api/...) answers all the same.
$ui_howto"
fi
cat >&2 <<MSG
Jaeger ($how): OTLP on ${JAEGER_OTLP_GRPC:-127.0.0.1:4317} (gRPC) and ${JAEGER_OTLP_HTTP:-127.0.0.1:4318} (HTTP), $serves on http://$JAEGER_QUERY_HTTP
Send it spans:
  OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/quickstart
  OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/service -selftest 5
$look
MSG
export JAEGER_QUERY_HTTP
if [ -n "$bin" ]; then
  exec "$bin" --config jaeger.yaml
fi
# In the container, jaeger.yaml listens on every interface of the
# container's network; Docker publishes each port on the host's 127.0.0.1
# only. A jaeger-ui build of the user's is mounted and served; without one,
# the image's own UI is.
: "${JAEGER_OTLP_GRPC:=127.0.0.1:4317}" "${JAEGER_OTLP_HTTP:=127.0.0.1:4318}"
ui=()
if [ -d "${JAEGER_UI_ASSETS:-}" ]; then
  ui=(-v "$JAEGER_UI_ASSETS:/jaeger-ui:ro" -e JAEGER_UI_ASSETS=/jaeger-ui)
fi
exec docker run --rm -i --init \
  -v "$PWD:/otelguard-e2e:ro" -w /otelguard-e2e "${ui[@]}" \
  -e JAEGER_OTLP_GRPC=0.0.0.0:4317 -e JAEGER_OTLP_HTTP=0.0.0.0:4318 \
  -e JAEGER_QUERY_HTTP=0.0.0.0:16686 -e JAEGER_QUERY_GRPC=0.0.0.0:16685 \
  -p "$JAEGER_OTLP_GRPC:4317" -p "$JAEGER_OTLP_HTTP:4318" -p "$JAEGER_QUERY_HTTP:16686" \
  "$image" --config /otelguard-e2e/jaeger.yaml
