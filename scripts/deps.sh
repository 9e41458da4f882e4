#!/usr/bin/env bash
# Installs (as root, from Debian) whatever lamina needs that is missing.
#   scripts/deps.sh            build + test dependencies
set -euo pipefail
pkgs=(cmake make gcc clang pkg-config libopenblas-openmp-dev
      python3 python3-torch python3-numpy gnuplot-nox libopenmpi-dev openmpi-bin)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then echo "deps: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
