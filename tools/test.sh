#!/usr/bin/env bash
# The test command: installs (incrementally) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# Test-only: Debian's ffmpeg decodes our streams as an external oracle (those tests skip
# without it). Installed when we are root; elsewhere: apt-get install ffmpeg.
if ! command -v ffmpeg >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg) \
    >/dev/null 2>&1 || echo "test: warning: could not install ffmpeg; its oracle tests will skip" >&2
fi
"${PYTHON:-python3}" -m pytest -q -ra "$@"
