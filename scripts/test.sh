#!/usr/bin/env bash
# Every test: installs what is missing, builds, runs ctest (C tests, PyTorch
# oracle tests, CLI tests).  Ends with ctest's summary.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
"$here/scripts/build.sh"
cd "${BUILD_DIR:-$here/build}"
ctest --output-on-failure -j 2 "$@"
