#!/usr/bin/env bash
# Data parallelism on this machine, side by side in one run:
#   1. all-reduce bandwidth between 2 ranks on loopback (lamina bench allreduce);
#   2. training tokens/s of the default model: 1 process x 2 threads against
#      2 ranks x 1 thread (same global batch, same sequences).
#   bench/dist_bench.sh [LAMINA] [STEPS]      (default build/lamina, 40 steps)
set -euo pipefail
bin=${1:-build/lamina}
steps=${2:-40}
export OMP_WAIT_POLICY=PASSIVE
mpi=(mpirun --allow-run-as-root --oversubscribe)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"${mpi[@]}" -np 2 "$bin" bench allreduce --reps 20
# median tokens/s over steps 3..N (column 5 of metrics.csv)
median() { awk -F, 'NR > 3 { print $5 }' "$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
"$bin" train --out "$tmp/one" --steps "$steps" --threads 2 --eval-every 0 --val-windows 1 --log-every 0 >/dev/null
"${mpi[@]}" -np 2 "$bin" train --out "$tmp/two" --steps "$steps" --threads 1 --eval-every 0 --val-windows 1 \
  --log-every 0 > "$tmp/two.out"
a=$(median "$tmp/one/metrics.csv"); b=$(median "$tmp/two/metrics.csv")
echo
echo "default model, batch 16 x 128 bytes, $steps steps (median tokens/s over steps 3..$steps):"
awk -v a="$a" -v b="$b" 'BEGIN { printf "  1 process x 2 threads: %8.0f tokens/s\n  2 ranks x 1 thread:    %8.0f tokens/s   (%.2fx)\n", a, b, b / a }'
grep '^all-reduce:' "$tmp/two.out" | sed 's/^/  /'
