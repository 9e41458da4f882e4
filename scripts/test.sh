#!/usr/bin/env bash
# Every test: installs what is missing, builds, runs ctest (C tests, PyTorch
# oracle tests, CLI tests).  Ends with ctest's summary.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
"$here/scripts/build.sh"
"$here/scripts/corpus.sh" >/dev/null   # the default corpus, for the lab tests (tests/cli/test_lab.sh)
cd "${BUILD_DIR:-$here/build}"
# The library's tests run on the BLAS kernels the lamina command runs on
# (it corrects a misdetected OpenBLAS core; see lam_blas_core_advice).
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  core=$(./lamina --version | sed -n 's/^blas: .*(core \(.*\))$/\1/p')
  if [[ -n $core && $core != unknown ]]; then export OPENBLAS_CORETYPE=$core; fi
fi
ctest --output-on-failure -j 2 "$@"
