#!/usr/bin/env bash
# The normalization lab end to end: lamina train --stats-every (stats.csv, its
# values checked against what a norm must produce, resume), and
# lamina experiment SUITE --quick for every suite (the report's tables,
# plots and readings; one CSV per run), with the one-line errors.
# Needs the default corpus (scripts/corpus.sh; scripts/test.sh prepares it).
source "$(dirname "$0")/harness.sh"
src=$LAMINA_SRC

if [[ ! -f $src/data/kjv/train.bin || ! -f $src/data/kjv/val.bin ]]; then
  echo "test_lab: the default corpus is missing (run scripts/corpus.sh)" >&2; exit 1
fi
# the commands find data/kjv relative to the working directory
mkdir -p "$tmp/work" && ln -s "$src/data" "$tmp/work/data" && cd "$tmp/work" || exit 1

# ---- lamina train --stats-every
tiny=(--layers 2 --heads 2 --dim 16 --ctx 16 --batch 4 --warmup 2 --threads 2)
for norm in layernorm rmsnorm batchnorm none; do
  for place in pre post; do
    d=$tmp/s-$norm-$place
    "$bin" train --out "$d" "${tiny[@]}" --norm $norm --placement $place --steps 10 --stats-every 4 \
      --log-every 10 >"$tmp/out" 2>&1 || { bad "train --stats-every ($norm $place): $(tail -2 "$tmp/out")"; continue; }
    f=$d/stats.csv
    [[ $(head -1 "$f") == "step,layer,sublayer,quantity,mean,std,max_abs,l2,update_ratio" ]] && ok || bad "stats.csv header: $(head -1 "$f")"
    # snapshots at steps 1, 4, 8; 5 places (2 layers x 2 + head) x 5 quantities each
    steps=$(awk -F, 'NR > 1 { print $1 }' "$f" | sort -nu | tr '\n' ' ')
    [[ $steps == "1 4 8 " ]] && ok || bad "$norm $place: stats steps '$steps'"
    n=$(awk -F, 'NR > 1 && $1 == 4 && $4 !~ /\./' "$f" | wc -l)
    [[ $n -eq 25 ]] && ok || bad "$norm $place: $n activation rows at step 4 (want 25)"
    # one row per trained tensor, with a finite gradient norm and update ratio
    nt=$("$bin" inspect "$d/model.safetensors" 2>/dev/null | grep -cE '^ *(wte|wpe|h\.|ln_f)' )
    ntr=$("$bin" inspect "$d/model.safetensors" 2>/dev/null | grep -cE 'running_(mean|var)')
    np=$(awk -F, 'NR > 1 && $1 == 4 && $4 ~ /\./' "$f" | wc -l)
    [[ $np -eq $((nt - ntr)) && $np -gt 0 ]] && ok || bad "$norm $place: $np parameter rows, $nt tensors ($ntr untrained)"
    awk -F, 'NR > 1 && $4 ~ /\./ && !($8 > 0 && $8 < 1e30 && $9 >= 0) { bad = 1 } END { exit bad }' "$f" && ok ||
      bad "$norm $place: a parameter row without a finite gradient norm or ratio"
    # what a norm produces: x̂ has mean 0 and std just under 1 (RMSNorm: rms just under 1)
    case $norm in
      layernorm|batchnorm)
        awk -F, 'NR > 1 && $4 == "xhat" && !($3 == "head" && "'$place'" == "post") {
                   if ($5 > 1e-5 || $5 < -1e-5 || $6 > 1.000001 || $6 < 0.9) bad = 1 }
                 END { exit bad }' "$f" && ok || bad "$norm $place: xhat not mean 0 / std 1";;
      rmsnorm)
        awk -F, 'NR > 1 && $4 == "xhat" && !($3 == "head" && "'$place'" == "post") {
                   r = sqrt($5 * $5 + $6 * $6); if (r > 1.000001 || r < 0.9) bad = 1 }
                 END { exit bad }' "$f" && ok || bad "$norm $place: xhat rms not 1";;
      none)
        awk -F, 'NR > 1 && $4 == "xhat" { x[$1 "," $2 "," $3] = $6 } NR > 1 && $4 == "norm_in" { y[$1 "," $2 "," $3] = $6 }
                 END { for (k in x) if (x[k] != y[k]) exit 1 }' "$f" && ok || bad "none $place: xhat differs from norm_in";;
    esac
    # every stream gradient recorded
    awk -F, 'NR > 1 && $4 == "stream_grad" && !($8 > 0) { bad = 1 } END { exit bad }' "$f" && ok ||
      bad "$norm $place: a stream_grad row without a gradient"
  done
done
# resume keeps the rows up to the checkpoint and continues
d=$tmp/resume
"$bin" train --out "$d" "${tiny[@]}" --steps 12 --stats-every 3 --stop-after 6 --log-every 12 >/dev/null 2>&1
cp "$d/stats.csv" "$tmp/stats6.csv"
"$bin" train --out "$d" "${tiny[@]}" --steps 12 --stats-every 3 --resume --log-every 12 >/dev/null 2>&1
"$bin" train --out "$tmp/straight" "${tiny[@]}" --steps 12 --stats-every 3 --log-every 12 >/dev/null 2>&1
[[ $(awk -F, 'NR > 1 { print $1 }' "$d/stats.csv" | sort -nu | tr '\n' ' ') == "1 3 6 9 12 " ]] && ok ||
  bad "resumed stats steps: $(awk -F, 'NR > 1 { print $1 }' "$d/stats.csv" | sort -nu | tr '\n' ' ')"
cmp -s "$d/stats.csv" "$tmp/straight/stats.csv" && ok || bad "resumed stats.csv differs from an uninterrupted run's"
expect 2 "--stats-every" "$bin" train --out "$tmp/x" "${tiny[@]}" --steps 2 --stats-every -1

# ---- lamina experiment: errors
expect 2 "which suite" "$bin" experiment
expect 2 "unknown suite 'nonsense'" "$bin" experiment nonsense
expect 2 "--threads" "$bin" experiment norms --threads 0
expect 2 "gnuplot not found" env PATH=/nonexistent "$bin" experiment norms --quick --out "$tmp/nognuplot"
[[ ! -e $tmp/nognuplot ]] && ok || bad "nothing is written when gnuplot is missing"
(cd "$tmp" && expect 2 "default corpus" "$bin" experiment norms --quick --out "$tmp/nocorpus")
touch "$tmp/afile"
expect 2 "not a directory" "$bin" experiment lr --quick --out "$tmp/afile"
"$bin" experiment --help | grep -q "placement" && ok || bad "experiment --help lists the suites"

# ---- every suite, quick: the report, its plots and tables, one CSV per run
check_report() {   # SUITE RUNS CLAIMS PLOT...
  local suite=$1 runs=$2 claims=$3; shift 3
  local d=$tmp/exp-$suite r=$tmp/exp-$suite/report.md
  [[ -s $r ]] && ok || { bad "$suite: no report.md"; return; }
  grep -q "^Reproduce: \`lamina experiment $suite --quick --threads 2 --out " "$r" && ok || bad "$suite: no reproducing command"
  grep -q '^Machine: ' "$r" && ok || bad "$suite: no machine line"
  grep -q '^|---|' "$r" && ok || bad "$suite: no table"
  for p in "$@"; do
    grep -qF "]($p.svg)" "$r" && ok || bad "$suite: report does not show $p.svg"
    head -c 200 "$d/$p.svg" 2>/dev/null | grep -q '<svg' && ok || bad "$suite: $p.svg is not an SVG"
    [[ -s $d/$p.gp ]] && ok || bad "$suite: no $p.gp to redraw $p.svg"
  done
  local n; n=$(grep -c '^- \*\*' "$r")
  [[ $n -eq $claims ]] && ok || bad "$suite: $n claims read (want $claims)"
  n=$(grep '^- \*\*' "$r" | grep -cE '\*\* (Supported|Partly supported|Weakly supported|Supported in degree|Not supported)')
  [[ $n -eq $claims ]] && ok || bad "$suite: $n of $claims readings say whether the data supports the claim"
  n=$(ls "$d/runs/"*.csv 2>/dev/null | grep -vc '\.stats\.csv$')
  [[ $n -eq $runs ]] && ok || bad "$suite: $n run CSVs (want $runs)"
  for f in "$d/runs/"*.csv; do
    [[ $f == *.stats.csv ]] && continue
    [[ $(head -1 "$f") == "step,loss,lr,grad_norm,tokens_per_s,val_loss" ]] || { bad "$suite: $f header"; break; }
  done
  ! grep -qiE '(^| )(nan|-nan)( |\||$)' "$r" && ok || bad "$suite: NaN in the report"
}
t0=$(date +%s)
"$bin" experiment norms --quick --threads 2 --out "$tmp/exp-norms" >"$tmp/out" 2>&1 && ok || bad "norms: $(tail -3 "$tmp/out")"
check_report norms 4 4 loss sublayer_input_std stream_std stream_grad param_grad
grep -q '^## Batch dependence' "$tmp/exp-norms/report.md" && ok || bad "norms: no batch-dependence section"
[[ $(ls "$tmp/exp-norms/runs/"*.stats.csv | wc -l) -eq 4 ]] && ok || bad "norms: a stats CSV per run"
# BatchNorm's logits depend on the batch in training mode, LayerNorm's do not
awk -F'|' '$2 ~ /batchnorm/ && $4+0 > 1e-3 { b = 1 } $2 ~ /layernorm/ && $4 ~ /e-0[5-9]|^ *0 *$/ { l = 1 } END { exit !(b && l) }' \
  <(sed -n '/largest absolute/,/^$/p; /^| norm | evaluation mode | training mode/,/^$/p' "$tmp/exp-norms/report.md") && ok ||
  bad "norms: batch invariance table: $(grep -A6 '| norm | evaluation mode | training mode' "$tmp/exp-norms/report.md" | tr '\n' ' ')"
"$bin" experiment placement --quick --threads 2 --out "$tmp/exp-placement" >"$tmp/out" 2>&1 && ok || bad "placement: $(tail -3 "$tmp/out")"
check_report placement 24 3 final_val deep_val init_grad
"$bin" experiment lr --quick --threads 2 --out "$tmp/exp-lr" >"$tmp/out" 2>&1 && ok || bad "lr: $(tail -3 "$tmp/out")"
check_report lr 9 2 lr_val
"$bin" experiment ffn --quick --threads 2 --out "$tmp/exp-ffn" >"$tmp/out" 2>&1 && ok || bad "ffn: $(tail -3 "$tmp/out")"
check_report ffn 12 1 ffn_val ffn_cost
secs=$(( $(date +%s) - t0 ))
[[ $secs -lt 120 ]] && ok || bad "the four quick suites took $secs s (each must stay well under a minute)"

# a report is never overwritten without --force; with it, it is replaced
cp "$tmp/exp-lr/report.md" "$tmp/lr-report.md"
expect 2 "already exists" "$bin" experiment lr --quick --threads 2 --out "$tmp/exp-lr"
cmp -s "$tmp/exp-lr/report.md" "$tmp/lr-report.md" && ok || bad "lr: report changed without --force"
"$bin" experiment lr --quick --threads 2 --out "$tmp/exp-lr" --force >/dev/null 2>&1 && ok || bad "lr --force"
diff <(grep -v '^Machine\|suite took' "$tmp/exp-lr/report.md") <(grep -v '^Machine\|suite took' "$tmp/lr-report.md") >/dev/null &&
  ok || bad "lr: a second run with the same seeds reports different numbers"

finish test_lab
