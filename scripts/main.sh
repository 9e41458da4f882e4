#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the normalization
# benchmark (training lands with the CLI issue).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
"$here/scripts/build.sh"
"${BUILD_DIR:-$here/build}/lamina" bench norm "$@"
