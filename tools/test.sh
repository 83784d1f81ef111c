#!/usr/bin/env bash
# The test command: installs (incrementally) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
"${PYTHON:-python3}" -m pytest -q -ra "$@"
