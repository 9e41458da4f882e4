#!/usr/bin/env bash
# Data-parallel training with Open MPI on loopback: 2 and 4 ranks against one
# process (per-step losses and final weights to 1e-4), gradient accumulation,
# BatchNorm, bit-exact resume, resume on another number of ranks, the
# checksum catching a perturbed rank, and
# the one-line errors.  In a build without MPI: the refusal to run as one of
# several ranks.
source "$(dirname "$0")/harness.sh"

for i in $(seq 1 400); do echo "line $i: the quick brown fox $((i*7 % 13)) jumps over the lazy dog $((i % 5))"; done > "$tmp/data.txt"
tiny=(--data "$tmp/data.txt" --layers 2 --heads 2 --dim 16 --ctx 16 --warmup 2 --lr 3e-3 --log-every 0 --eval-every 10)

if "$bin" --version | grep -q '^mpi: none'; then
  # a build without MPI must not train N independent copies
  OMPI_COMM_WORLD_SIZE=2 "$bin" train --out "$tmp/x" "${tiny[@]}" --steps 2 >"$tmp/out" 2>"$tmp/err"; rc=$?
  [[ $rc -eq 2 && $(grep -c '' "$tmp/err") -eq 1 ]] && grep -q "built without MPI" "$tmp/err" && ok ||
    bad "non-MPI build under mpirun: status $rc: $(cat "$tmp/err")"
  [[ ! -e $tmp/x ]] && ok || bad "non-MPI build under mpirun wrote files"
  finish test_mpi "(this lamina was built without MPI)"
fi
if ! command -v mpirun >/dev/null; then echo "test_mpi: mpirun missing (openmpi-bin)" >&2; exit 1; fi
mpi() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }

# per-step losses (metrics.csv column 2) of two runs agree to 1e-4 relative
same_losses() {
  awk -F, 'NR == FNR { if (FNR > 1) a[$1] = $2; next }
           FNR > 1 { n++; d = $2 - a[$1]; if (d < 0) d = -d; r = d / (a[$1] < 0 ? -a[$1] : a[$1]); if (r > m) m = r }
           END { printf "%d steps, max relative difference %.2g\n", n, m; exit !(n > 0 && m <= 1e-4) }' "$1" "$2"
}
# final weights agree to 1e-4 of each tensor's largest value
same_weights() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, struct, sys
import numpy as np
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: np.frombuffer(d[v['data_offsets'][0]:v['data_offsets'][1]], dtype=np.float32)
            for k, v in h.items() if k != '__metadata__'}
a, b = load(sys.argv[1]), load(sys.argv[2])
worst = max(float(np.max(np.abs(a[k] - b[k])) / max(float(np.max(np.abs(a[k]))), 1e-30)) for k in a)
print(f"{len(a)} tensors, max relative difference {worst:.2g}")
sys.exit(0 if a.keys() == b.keys() and worst <= 1e-4 else 1)
EOF
}

# ---- 1 process against 2 and 4 ranks
"$bin" train --out "$tmp/one" "${tiny[@]}" --batch 8 --steps 20 --threads 1 >/dev/null 2>&1 && ok || bad "single-process run"
for n in 2 4; do
  mpi $n "$bin" train --out "$tmp/np$n" "${tiny[@]}" --batch 8 --steps 20 >"$tmp/np$n.out" 2>&1 && ok ||
    bad "$n ranks: $(tail -3 "$tmp/np$n.out")"
  r=$(same_losses "$tmp/one/metrics.csv" "$tmp/np$n/metrics.csv") && ok || bad "$n ranks: losses: $r"
  r=$(same_weights "$tmp/one/model.safetensors" "$tmp/np$n/model.safetensors") && ok || bad "$n ranks: weights: $r"
  [[ $(grep -c '^done:' "$tmp/np$n.out") -eq 1 ]] && ok || bad "$n ranks: rank 0 alone prints (done lines: $(grep -c '^done:' "$tmp/np$n.out"))"
  [[ $(grep -c '' "$tmp/np$n/metrics.csv") -eq 21 ]] && ok || bad "$n ranks: metrics.csv has $(grep -c '' "$tmp/np$n/metrics.csv") lines"
  grep -q "^ranks: $n " "$tmp/np$n.out" && ok || bad "$n ranks: start-up does not name the ranks"
  ! grep -q $'\r' "$tmp/np$n.out" && grep -q '^step 20/20 ' "$tmp/np$n.out" && ok ||
    bad "$n ranks: progress is not plain lines (Open MPI's pseudo-terminal drew a bar)"
done
echo "  losses 1 vs 4 ranks: $(same_losses "$tmp/one/metrics.csv" "$tmp/np4/metrics.csv")"
# accumulation: 2 ranks x 2 micro-batches of 2 sequences = the same global batch of 8
mpi 2 "$bin" train --out "$tmp/acc" "${tiny[@]}" --batch 8 --accum 2 --steps 20 >/dev/null 2>&1 && ok || bad "2 ranks with --accum 2"
r=$(same_losses "$tmp/one/metrics.csv" "$tmp/acc/metrics.csv") && ok || bad "accum: losses: $r"
# BatchNorm: statistics per rank, so not the single-process run, but the ranks stay in step (checksums agree)
mpi 2 "$bin" train --out "$tmp/bn" "${tiny[@]}" --norm batchnorm --batch 8 --steps 12 --ckpt-every 4 >"$tmp/out" 2>&1 && ok ||
  bad "BatchNorm on 2 ranks: $(tail -2 "$tmp/out")"

# ---- bit-exact resume with the same number of ranks
mpi 2 "$bin" train --out "$tmp/res" "${tiny[@]}" --batch 8 --steps 20 --stop-after 10 >/dev/null 2>&1 && ok || bad "--stop-after on 2 ranks"
grep -q '"step": 10' "$tmp/res/state.json" && ok || bad "checkpoint at step 10: $(head -c 200 "$tmp/res/state.json")"
mpi 2 "$bin" train --out "$tmp/res" "${tiny[@]}" --batch 8 --steps 20 --resume >/dev/null 2>&1 && ok || bad "--resume on 2 ranks"
cmp -s "$tmp/res/model.safetensors" "$tmp/np2/model.safetensors" && ok || bad "resumed 2-rank run differs from the uninterrupted one"
# ---- resume with another number of ranks: the batches depend only on the seed, so the run goes on as one
mpi 2 "$bin" train --out "$tmp/re4" "${tiny[@]}" --batch 8 --steps 20 --stop-after 10 >/dev/null 2>&1 && ok || bad "--stop-after on 2 ranks (re4)"
mpi 4 "$bin" train --out "$tmp/re4" "${tiny[@]}" --batch 8 --steps 20 --resume >/dev/null 2>&1 && ok || bad "2 ranks resumed on 4"
r=$(same_weights "$tmp/one/model.safetensors" "$tmp/re4/model.safetensors") && ok || bad "2 ranks resumed on 4: weights: $r"
r=$(same_losses "$tmp/one/metrics.csv" "$tmp/re4/metrics.csv") && ok || bad "2 ranks resumed on 4: losses: $r"
"$bin" train --out "$tmp/re1" "${tiny[@]}" --batch 8 --steps 20 --stop-after 10 --threads 1 >/dev/null 2>&1 && ok || bad "--stop-after, one process"
mpi 2 "$bin" train --out "$tmp/re1" "${tiny[@]}" --batch 8 --steps 20 --resume >/dev/null 2>&1 && ok || bad "one process resumed on 2 ranks"
r=$(same_weights "$tmp/one/model.safetensors" "$tmp/re1/model.safetensors") && ok || bad "one process resumed on 2 ranks: weights: $r"

# ---- a rank that drifts is caught at the next checksum; the last checkpoint stays whole
LAMINA_TEST_PERTURB=1:7 mpi 2 -x LAMINA_TEST_PERTURB "$bin" train --out "$tmp/drift" "${tiny[@]}" --batch 8 --steps 20 \
  --ckpt-every 5 >"$tmp/out" 2>&1; rc=$?
[[ $rc -ne 0 ]] && ok || bad "a perturbed rank was not caught (status 0)"
grep -q "step 10: the ranks' parameters or optimizer state differ" "$tmp/out" && ok || bad "drift message: $(grep lamina "$tmp/out")"
grep -q '"step": 5' "$tmp/drift/state.json" && ok || bad "the step-5 checkpoint is not the one left: $(head -c 200 "$tmp/drift/state.json")"
"$bin" eval --model "$tmp/drift" --data "$tmp/data.txt" >/dev/null 2>&1 && ok || bad "the step-5 checkpoint does not load"

# ---- a rank that dies ends the job with mpirun's message; the last checkpoint stays whole
mpi 2 "$bin" train --out "$tmp/kill" "${tiny[@]}" --batch 8 --steps 1000000 --ckpt-every 5 --log-every 100 \
  >"$tmp/kill.out" 2>&1 &
job=$!
victim=""
for _ in $(seq 1 100); do   # rank 1's pid, once it has written a checkpoint
  for p in $(pgrep -f "train --out $tmp/kill" || true); do
    [[ -r /proc/$p/environ ]] && tr '\0' '\n' < /proc/$p/environ | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
  done
  [[ -n $victim && -f $tmp/kill/state.json ]] && break
  sleep 0.1
done
if [[ -n $victim ]]; then
  sleep 0.5; kill -9 "$victim"
  wait $job; rc=$?
  [[ $rc -ne 0 ]] && ok || bad "a killed rank: mpirun status 0"
  grep -q "rank 1 .*exited on signal 9" "$tmp/kill.out" && ok || bad "a killed rank: no message naming it: $(tail -c 300 "$tmp/kill.out")"
  step=$(sed -n 's/^ *"step": \([0-9]*\),/\1/p' "$tmp/kill/state.json")
  [[ -n $step && $((step % 5)) -eq 0 ]] && ok || bad "a killed rank: checkpoint step '$step'"
  "$bin" eval --model "$tmp/kill" --data "$tmp/data.txt" >/dev/null 2>&1 && ok || bad "a killed rank: the checkpoint does not load"
else
  kill $job 2>/dev/null; wait $job
  bad "a killed rank: could not find rank 1's process"
fi

# ---- errors: one line from rank 0, status 2
mpi 3 "$bin" train --out "$tmp/x3" "${tiny[@]}" --batch 8 --steps 2 >"$tmp/out" 2>"$tmp/err"; rc=$?
[[ $rc -eq 2 ]] && ok || bad "batch 8 on 3 ranks: status $rc"
[[ $(grep -c '^lamina' "$tmp/err") -eq 1 ]] && grep -q "batch 8 does not divide into 3 ranks" "$tmp/err" && ok ||
  bad "batch 8 on 3 ranks: $(grep lamina "$tmp/err")"
mpi 2 "$bin" eval --model "$tmp/one" --data "$tmp/data.txt" >"$tmp/out" 2>"$tmp/err"; rc=$?
[[ $rc -eq 2 && $(grep -c '^lamina' "$tmp/err") -eq 1 ]] && grep -q "only 'lamina train'" "$tmp/err" && ok ||
  bad "eval on 2 ranks: status $rc: $(grep lamina "$tmp/err")"
mpi 2 "$bin" train --out "$tmp/x2" "${tiny[@]}" --batch 8 --steps 2 --lr abc >"$tmp/out" 2>"$tmp/err"; rc=$?
[[ $rc -eq 2 && $(grep -c '^lamina' "$tmp/err") -eq 1 ]] && ok || bad "--lr abc on 2 ranks: status $rc, $(grep -c '^lamina' "$tmp/err") lines"
mpi 2 "$bin" bench allreduce --reps 2 >"$tmp/out" 2>&1 && grep -q 'busbw' "$tmp/out" && ok || bad "bench allreduce: $(tail -2 "$tmp/out")"

finish test_mpi
