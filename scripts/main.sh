#!/usr/bin/env bash
# The main job: installs what is missing (Debian 12, as root), builds,
# prepares the default corpus (the King James Bible), trains the default
# model (4 layers, 4 heads, dim 256, ctx 128, pre-LayerNorm, GELU-tanh) for
# 2000 steps (about 4 minutes on 2 Zen 5 cores), and prints text it generates.
#   scripts/main.sh [extra lamina train flags]
# The run lives in runs/kjv (runs/kjv-N for STEPS=N; RUN_DIR to change): a
# finished run is sampled again, an interrupted one (Ctrl-C) is resumed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
"$here/scripts/build.sh"
"$here/scripts/corpus.sh"
bin=${BUILD_DIR:-$here/build}/lamina
steps=${STEPS:-2000}
# one directory per length of run (a checkpoint resumes only with its own settings)
if [[ $steps == 2000 ]]; then run=${RUN_DIR:-$here/runs/kjv}; else run=${RUN_DIR:-$here/runs/kjv-$steps}; fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$here"   # the default corpus is found at data/kjv
flags=(--out "$run" --steps "$steps" --eval-every 50 --ckpt-every 100 "$@")
if [[ -f $run/state.json ]]; then
  done_steps=$(grep -o '"step": [0-9]*' "$run/state.json" | grep -o '[0-9]*$')
  if (( done_steps < steps )); then "$bin" train "${flags[@]}" --resume; else echo "main: $run is trained ($done_steps steps)"; fi
else
  "$bin" train "${flags[@]}"
fi
echo
echo "---- lamina sample --model $run --prompt 'And God said' --tokens 400"
"$bin" sample --model "$run" --prompt "And God said" --tokens 400 --seed 1
