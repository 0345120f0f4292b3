# Sourced, not run: where the Jaeger UI comes from, and the browser that looks
# at it. Used by jaeger.sh, screenshot.sh and .ci/run; the e2e tests apply
# the same rule in Go (uiAssets in harness_test.go).
#
# A Jaeger built from its Go module embeds only a placeholder page: the real
# UI is a separate JavaScript build (jaeger-ui) that Jaeger serves from
# jaeger_query's ui.assets_path, which jaeger.yaml takes from
# JAEGER_UI_ASSETS.

ui_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# How to get a UI, for the messages that say there is none.
ui_howto_build="build jaeger-ui v1.76.0, the UI that Jaeger v1.76.0 pins (in a clone of
github.com/jaegertracing/jaeger-ui at v1.76.0: npm ci, then npm run build in
packages/jaeger-ui), and name the build: JAEGER_UI_ASSETS=/abs/path/to/packages/jaeger-ui/build"
ui_howto="To see the UI, either run the official image of the same Jaeger, which embeds it:
  docker run --rm -p 127.0.0.1:16686:16686 -p 127.0.0.1:4318:4318 jaegertracing/jaeger:2.13.0
or $ui_howto_build"

# find_jaeger_ui exports JAEGER_UI_ASSETS as the jaeger-ui build to serve:
# JAEGER_UI_ASSETS itself when set (it must be a directory with an
# index.html), else ../shared/jaeger-ui beside the repository when it has
# one. It returns 0 when it found a build and 1 when there is none (and
# JAEGER_UI_ASSETS is then exported empty: Jaeger serves its placeholder);
# a JAEGER_UI_ASSETS that is not a UI build is an error (status 2).
find_jaeger_ui() {
  if [ -n "${JAEGER_UI_ASSETS:-}" ]; then
    if [ ! -f "$JAEGER_UI_ASSETS/index.html" ]; then
      echo "JAEGER_UI_ASSETS=$JAEGER_UI_ASSETS is not a jaeger-ui build (no index.html in it)" >&2
      return 2
    fi
    JAEGER_UI_ASSETS="$(cd "$JAEGER_UI_ASSETS" && pwd)" # Jaeger runs in e2e/
  elif [ -f "$ui_repo_root/../shared/jaeger-ui/index.html" ]; then
    JAEGER_UI_ASSETS="$(cd "$ui_repo_root/../shared/jaeger-ui" && pwd)"
  else
    JAEGER_UI_ASSETS=
  fi
  export JAEGER_UI_ASSETS
  [ -n "$JAEGER_UI_ASSETS" ]
}

# need_chromium installs Chromium when it is missing, with apt-get as root
# (Debian's package is chromium), and fails saying how otherwise.
need_chromium() {
  local b
  for b in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$b" >/dev/null && return 0
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Chromium (apt-get install chromium) for the Jaeger UI's browser test" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    return
  fi
  echo "needs Chromium on PATH (Debian: sudo apt-get install -y chromium)" >&2
  return 1
}
