#!/usr/bin/env bash
# Installs hm-cnn-loop into the current Python (activate a venv first if you want one):
#   1. Debian's nasm (x265 assembly; without it encoding is 2.5-5x slower, same bitstreams)
#   2. pinned build dependencies: torch 2.13.0 (CPU wheel), pybind11 3.0.4, scikit-build-core
#   3. the codec sources by Debian package name, verified and patched (cpp/fetch_codecs.sh)
#   4. the package itself, editable, built against the already-installed torch
#      (--no-build-isolation: a build must never pull an unpinned, multi-GB torch)
# Safe to re-run: each step is skipped or incremental when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! command -v nasm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nasm) >&2 \
      || echo "setup: warning: could not install nasm; x265 is built without assembly" >&2
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nasm) >&2 \
      || echo "setup: warning: could not install nasm; x265 is built without assembly" >&2
  else
    echo "setup: warning: nasm missing and no root: x265 is built without assembly" >&2
  fi
fi

"$PY" -m pip install -q torch==2.13.0 pybind11==3.0.4 "scikit-build-core>=0.10"
bash cpp/fetch_codecs.sh
echo "setup: building the codecs and the extension (first time: ~5 min on 2 cores)" >&2
"$PY" -m pip install -q --no-build-isolation -e ".[test]"
echo "setup: done ($("$PY" -c 'import hm_bridge, sys; print(hm_bridge.__file__)'))" >&2
