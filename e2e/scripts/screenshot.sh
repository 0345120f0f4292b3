#!/usr/bin/env bash
# Takes the README's pictures of the Jaeger UI, docs/jaeger-leak.png (the
# leak's trace page, its span and tags expanded) and docs/jaeger-search.png
# (the tag search that finds it): what `make screenshot` runs. They are
# taken by e2e's TestJaegerUI, which this runs with OTELGUARD_SCREENSHOTS:
# it starts the pinned Jaeger (built as the e2e tests build it), runs the
# examples against it and walks the UI in headless Chromium.
#
# Needs a jaeger-ui build, found as scripts/ui.sh says (JAEGER_UI_ASSETS, or
# ../shared/jaeger-ui beside the repository), and Chromium: installed with
# apt-get when missing and run as root.
set -euo pipefail
. "$(dirname "$0")/ui.sh"
found=0
find_jaeger_ui || found=$? # before the cd: a relative JAEGER_UI_ASSETS is the caller's
if [ "$found" = 1 ]; then
  cat >&2 <<MSG
screenshot.sh: no jaeger-ui build (JAEGER_UI_ASSETS is unset and there is no
../shared/jaeger-ui beside the repository): a Jaeger built from its Go module
serves only a placeholder page, and the pictures must show the UI. To take them,
$ui_howto_build
MSG
  exit 1
fi
[ "$found" = 0 ] || exit 2
need_chromium
cd "$(dirname "$0")/.."

out="$(cd .. && pwd)/docs"
echo "serving the Jaeger UI from $JAEGER_UI_ASSETS" >&2
OTELGUARD_SCREENSHOTS="$out" go test -count=1 -run '^TestJaegerUI$' -v -timeout 30m .
echo "wrote $out/jaeger-leak.png and $out/jaeger-search.png"
