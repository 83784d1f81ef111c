#!/usr/bin/env bash
# The test command: installs (incrementally) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# Test-only, installed when we are root (elsewhere: apt-get install ffmpeg chromium; the
# tests that need them skip with the reason): Debian's ffmpeg decodes our streams as an
# external oracle; Debian's chromium renders the HTML report headless.
missing=""
command -v ffmpeg >/dev/null 2>&1 || missing="$missing ffmpeg"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) \
    >/dev/null 2>&1 || echo "test: warning: could not install$missing; their tests will skip" >&2
fi
"${PYTHON:-python3}" -m pytest -q -ra "$@"
