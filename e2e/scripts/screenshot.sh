#!/usr/bin/env bash
# Takes docs/jaeger-leak.png, the README's picture of a leak in Jaeger: what
# `make screenshot` runs. It starts the pinned Jaeger (built as the e2e
# tests build it), runs examples/service -selftest against it, finds a
# leaked lifetime by tag search and has headless Chromium screenshot the
# trace's page with the leaked span expanded. All of it is e2e's
# TestScreenshot, which this runs.
#
# Needs Chromium: installed with apt-get when missing and run as root, on
# Debian (the package is chromium). Jaeger built from
# its Go module has no UI: set JAEGER_UI_ASSETS to a built jaeger-ui
# directory to serve and screenshot the real one; without it the picture
# shows the query API's JSON for the trace, and the test log says so.
set -euo pipefail
cd "$(dirname "$0")/.."

have_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null
if ! have_chromium; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "screenshot.sh: needs Chromium (Debian: sudo apt-get install -y chromium)" >&2
    exit 1
  fi
fi

out="$(cd .. && pwd)/docs/jaeger-leak.png"
mkdir -p "$(dirname "$out")"
OTELGUARD_SCREENSHOT="$out" go test -count=1 -run '^TestScreenshot$' -v -timeout 30m .
echo "wrote $out"
