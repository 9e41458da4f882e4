#!/usr/bin/env bash
# lamina train / sample / eval end to end on a tiny model: the files a run
# writes, bit-exact resume (after SIGINT, after kill -9, after a crash inside
# a checkpoint save), one-line errors with the right status for bad input,
# and never a write over a good checkpoint.
source "$(dirname "$0")/harness.sh"

# a small text corpus (varied enough to learn from)
for i in $(seq 1 300); do echo "line $i: the quick brown fox $((i*7 % 13)) jumps over the lazy dog $((i % 5))"; done > "$tmp/data.txt"
tiny=(--layers 1 --heads 2 --dim 16 --ctx 16 --batch 4 --warmup 2 --lr 3e-3 --threads 2)


# ---- a run and what it writes
"$bin" train --data "$tmp/data.txt" --out "$tmp/a" "${tiny[@]}" --steps 12 --ckpt-every 4 --eval-every 4 \
  >"$tmp/a.out" 2>&1; rc=$?
[[ $rc -eq 0 ]] && ok || bad "train: status $rc: $(tail -3 "$tmp/a.out")"
for f in model.safetensors optimizer.safetensors state.json metrics.csv; do
  [[ -s $tmp/a/$f ]] && ok || bad "train did not write $f"
done
[[ ! -e $tmp/a/optimizer.next.safetensors ]] && ok || bad "optimizer.next left behind"
grep -q '^parameters: ' "$tmp/a.out" && ok || bad "no parameter count in the start-up output"
grep -q '^memory: parameters .*gradients .*activations .*optimizer ' "$tmp/a.out" && ok || bad "no memory plan"
[[ $(head -1 "$tmp/a/metrics.csv") == "step,loss,lr,grad_norm,tokens_per_s,val_loss" ]] && ok || bad "metrics header"
[[ $(grep -c '' "$tmp/a/metrics.csv") -eq 13 ]] && ok || bad "metrics rows: $(grep -c '' "$tmp/a/metrics.csv")"
# validation loss on steps 4, 8, 12 only
vals=$(awk -F, 'NR > 1 && $6 != "" {printf "%s ", $1}' "$tmp/a/metrics.csv")
[[ $vals == "4 8 12 " ]] && ok || bad "val_loss measured at: $vals"
# the loss went down from the first step (ln 256 = 5.55 at init)
awk -F, 'NR == 2 {a = $2} END {exit !($2 < a && a > 5 && a < 6)}' "$tmp/a/metrics.csv" && ok || bad "loss did not fall: $(sed -n '2p;$p' "$tmp/a/metrics.csv")"
# the model file: GPT-2 names and Conv1D shapes, config in the metadata
out=$("$bin" inspect "$tmp/a/model.safetensors")
for re in '^wte\.weight +F32 +\[256, 16\]' '^wpe\.weight +F32 +\[16, 16\]' '^h\.0\.attn\.c_attn\.weight +F32 +\[16, 48\]' \
          '^h\.0\.mlp\.c_fc\.weight +F32 +\[16, 64\]' '^h\.0\.mlp\.c_proj\.weight +F32 +\[64, 16\]' '^ln_f\.bias +F32 +\[16\]' \
          '^  format = lamina$' '^  step = 12$' '^  config = \{.*"norm":"layernorm".*\}$'; do
  printf '%s\n' "$out" | grep -Eq "$re" && ok || bad "model.safetensors: no line /$re/"
done
grep -q '"step": 12' "$tmp/a/state.json" && ok || bad "state.json step"

# ---- same seed: the same bytes on 1, 2 and 3 threads (every norm, both placements, a gated MLP)
for cfgs in "layernorm pre gelu_tanh" "batchnorm post swiglu" "rmsnorm pre geglu" "none post relu"; do
  set -- $cfgs
  for t in 1 2 3; do
    "$bin" train --data "$tmp/data.txt" --out "$tmp/thr$t" --layers 2 --heads 2 --dim 32 --ctx 32 --batch 8 --steps 3 \
      --norm $1 --placement $2 --act $3 --threads $t >/dev/null 2>&1 || bad "train on $t threads failed"
  done
  cmp -s "$tmp/thr1/model.safetensors" "$tmp/thr2/model.safetensors" && cmp -s "$tmp/thr1/model.safetensors" "$tmp/thr3/model.safetensors" \
    && ok || bad "$cfgs: weights differ between 1, 2 and 3 threads"
  rm -rf "$tmp"/thr?
done

# ---- the same bytes with and without AVX-512 (the AVX-512 family is the AVX2 one at twice the width)
if grep -q -w avx512dq /proc/cpuinfo 2>/dev/null && grep -q -w avx512bw /proc/cpuinfo && grep -q -w avx512vl /proc/cpuinfo; then
  for cfgs in "layernorm pre gelu_tanh" "rmsnorm post swiglu" "batchnorm pre gelu"; do
    set -- $cfgs
    for isa in avx2 avx512; do
      LAMINA_ISA=$isa "$bin" train --data "$tmp/data.txt" --out "$tmp/isa_$isa" --layers 2 --heads 2 --dim 32 --ctx 32 \
        --batch 8 --steps 3 --norm $1 --placement $2 --act $3 >/dev/null 2>&1 || bad "train with isa $isa failed"
    done
    cmp -s "$tmp/isa_avx2/model.safetensors" "$tmp/isa_avx512/model.safetensors" && ok ||
      bad "$cfgs: weights differ between the avx2 and avx512 families"
    rm -rf "$tmp"/isa_*
  done
fi

# ---- resume after SIGINT finishes bit-exactly as the uninterrupted run
mid=(--layers 2 --heads 2 --dim 32 --ctx 32 --batch 8 --warmup 2 --lr 3e-3 --threads 2 --steps 300 --ckpt-every 100)
"$bin" train --data "$tmp/data.txt" --out "$tmp/full" "${mid[@]}" >/dev/null 2>&1 || bad "full run failed"
"$bin" train --data "$tmp/data.txt" --out "$tmp/int" "${mid[@]}" >"$tmp/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 400); do   # wait for a few steps (the handler is installed before the first)
  [[ $(grep -c '' "$tmp/int/metrics.csv" 2>/dev/null || echo 0) -ge 4 ]] && break; sleep 0.01
done
kill -INT $pid 2>/dev/null; wait $pid; rc=$?
stopped=$(grep -o '"step": [0-9]*' "$tmp/int/state.json" 2>/dev/null | grep -o '[0-9]*$')
if [[ $rc -eq 0 && -n $stopped ]]; then ok; else bad "SIGINT: status $rc, state step '$stopped': $(tail -2 "$tmp/int.out")"; fi
if [[ -n $stopped && $stopped -lt 300 ]]; then
  grep -q 'interrupted: checkpoint at step' "$tmp/int.out" && ok || bad "no interruption message"
  "$bin" train --data "$tmp/data.txt" --out "$tmp/int" "${mid[@]}" --resume >/dev/null 2>&1 || bad "resume failed"
  cmp -s "$tmp/full/model.safetensors" "$tmp/int/model.safetensors" && ok || bad "resumed after SIGINT at step $stopped: model differs"
  cmp -s "$tmp/full/optimizer.safetensors" "$tmp/int/optimizer.safetensors" && ok || bad "resumed: optimizer differs"
  [[ $(grep -c '' "$tmp/int/metrics.csv") -eq 301 ]] && ok || bad "resumed metrics rows: $(grep -c '' "$tmp/int/metrics.csv")"
  diff <(cut -d, -f1-4 "$tmp/full/metrics.csv") <(cut -d, -f1-4 "$tmp/int/metrics.csv") >/dev/null && ok || bad "resumed metrics differ"
else
  bad "SIGINT arrived after the last step ($stopped)"
fi

# ---- kill -9 after a checkpoint, then resume
"$bin" train --data "$tmp/data.txt" --out "$tmp/k" "${mid[@]}" --ckpt-every 5 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 400); do
  [[ $(grep -c '' "$tmp/k/metrics.csv" 2>/dev/null || echo 0) -ge 13 ]] && break; sleep 0.01
done
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
if [[ -e $tmp/k/model.safetensors ]]; then
  "$bin" train --data "$tmp/data.txt" --out "$tmp/k" "${mid[@]}" --ckpt-every 5 --resume >/dev/null 2>"$tmp/k.err" \
    && ok || bad "resume after kill -9: $(cat "$tmp/k.err")"
  "$bin" train --data "$tmp/data.txt" --out "$tmp/full5" "${mid[@]}" --ckpt-every 5 >/dev/null 2>&1
  cmp -s "$tmp/full5/model.safetensors" "$tmp/k/model.safetensors" && ok || bad "resumed after kill -9: model differs"
else
  bad "kill -9 run wrote no checkpoint"
fi

# ---- a crash inside a checkpoint save, at either side of the commit point
# (--stop-after N checkpoints and exits after step N: states of one 9-step run at steps 3 and 6)
"$bin" train --data "$tmp/data.txt" --out "$tmp/f9" "${tiny[@]}" --steps 9 --ckpt-every 3 >/dev/null 2>&1
"$bin" train --data "$tmp/data.txt" --out "$tmp/p3" "${tiny[@]}" --steps 9 --ckpt-every 3 --stop-after 3 >/dev/null 2>&1
"$bin" train --data "$tmp/data.txt" --out "$tmp/p6" "${tiny[@]}" --steps 9 --ckpt-every 3 --stop-after 6 >/dev/null 2>&1
grep -q '"step": 3' "$tmp/p3/state.json" && grep -q '"step": 6' "$tmp/p6/state.json" && ok || bad "--stop-after did not stop"
resume9() { "$bin" train --data "$tmp/data.txt" --out "$1" "${tiny[@]}" --steps 9 --ckpt-every 3 --resume >/dev/null 2>"$tmp/r.err"; }
# before the commit: the step-6 optimizer.next was written (whole or torn), model.safetensors still at step 3
for torn in 0 1; do
  d=$tmp/pre$torn; mkdir -p "$d"; cp "$tmp/p3/model.safetensors" "$tmp/p3/optimizer.safetensors" "$d/"
  if [[ $torn -eq 1 ]]; then head -c 100 "$tmp/p6/optimizer.safetensors" > "$d/optimizer.next.safetensors"
  else cp "$tmp/p6/optimizer.safetensors" "$d/optimizer.next.safetensors"; fi
  resume9 "$d" && ok || bad "resume before the commit (torn $torn): $(cat "$tmp/r.err")"
  cmp -s "$tmp/f9/model.safetensors" "$d/model.safetensors" && ok || bad "resume before the commit (torn $torn): model differs"
done
# after the commit: model at step 6, its optimizer state still named optimizer.next, the old one at step 3
d=$tmp/post; mkdir -p "$d"
cp "$tmp/p6/model.safetensors" "$d/"; cp "$tmp/p6/optimizer.safetensors" "$d/optimizer.next.safetensors"
cp "$tmp/p3/optimizer.safetensors" "$d/optimizer.safetensors"
resume9 "$d" && ok || bad "resume after the commit: $(cat "$tmp/r.err")"
cmp -s "$tmp/f9/model.safetensors" "$d/model.safetensors" && ok || bad "resume after the commit: model differs"
[[ ! -e $d/optimizer.next.safetensors ]] && ok || bad "optimizer.next left behind after resume"
# a model whose optimizer state is missing altogether is refused, untouched
d=$tmp/noopt; mkdir -p "$d"; cp "$tmp/p6/model.safetensors" "$d/"; cp "$tmp/p3/optimizer.safetensors" "$d/"
expect 2 "no optimizer state for step 6" "$bin" train --data "$tmp/data.txt" --out "$d" "${tiny[@]}" --steps 9 --ckpt-every 3 --resume
cmp -s "$tmp/p6/model.safetensors" "$d/model.safetensors" && ok || bad "refused resume touched the model"
expect 2 "steps" "$bin" train --data "$tmp/data.txt" --out "$tmp/p3" "${tiny[@]}" --steps 12 --ckpt-every 3 --resume

# ---- eval
"$bin" eval --model "$tmp/a" --data "$tmp/data.txt" --json >"$tmp/eval.json" 2>"$tmp/eval.err"; rc=$?
[[ $rc -eq 0 ]] && ok || bad "eval: status $rc $(cat "$tmp/eval.err")"
len=$(stat -c %s "$tmp/data.txt")
/usr/bin/python3 - "$tmp/eval.json" "$len" <<'EOF' && ok || bad "eval JSON: $(cat "$tmp/eval.json")"
import json, math, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2]); ctx = 16
assert set(d) >= {"loss", "perplexity", "bits_per_byte", "tokens"}, d
assert d["tokens"] == (n - 1) // ctx * ctx, (d["tokens"], n)
assert abs(d["perplexity"] - math.exp(d["loss"])) <= 1e-9 * d["perplexity"]
assert abs(d["bits_per_byte"] - d["loss"] / math.log(2)) <= 1e-12 * d["bits_per_byte"]
assert 0 < d["loss"] < math.log(256) + 0.5
EOF
"$bin" eval --model "$tmp/a/model.safetensors" --data "$tmp/data.txt" | grep -q '^loss [0-9.]* nats/byte, perplexity' && ok || bad "eval text output"

# ---- sample: streams, deterministic for a seed, greedy at temperature 0
s1=$("$bin" sample --model "$tmp/a" --prompt "line 1" --tokens 40 --seed 7)
s2=$("$bin" sample --model "$tmp/a" --prompt "line 1" --tokens 40 --seed 7)
[[ $s1 == "$s2" && ${s1:0:6} == "line 1" ]] && ok || bad "sample not reproducible: '$s1' vs '$s2'"
[[ $(printf '%s' "$s1" | head -c -0 | wc -c) -ge 40 ]] && ok || bad "sample too short: '$s1'"
g1=$("$bin" sample --model "$tmp/a" --prompt "the quick" --tokens 20 --temperature 0 --seed 1)
g2=$("$bin" sample --model "$tmp/a" --prompt "the quick" --tokens 20 --temperature 0 --seed 2)
[[ $g1 == "$g2" ]] && ok || bad "greedy sampling depends on the seed"

# ---- bad input: one line, status 2 (1 for I/O), nothing overwritten
: > "$tmp/empty"; printf 'abc' > "$tmp/short"; mkdir -p "$tmp/adir"
expect 2 "required" "$bin" train --data "$tmp/data.txt" "${tiny[@]}"
expect 2 "No such file" "$bin" train --data "$tmp/missing" --out "$tmp/x" "${tiny[@]}"
expect 2 "empty" "$bin" train --data "$tmp/empty" --out "$tmp/x" "${tiny[@]}"
expect 2 "too short" "$bin" train --data "$tmp/short" --out "$tmp/x" "${tiny[@]}"
expect 2 "directory" "$bin" train --data "$tmp/adir" --out "$tmp/x" "${tiny[@]}"
expect 2 "--bogus" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --bogus 1
expect 2 "--steps" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --steps abc
expect 2 "--steps" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --steps 0
expect 2 "--steps" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --steps -5
expect 2 "--ctx" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --ctx 99999999999
expect 2 "--lr" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --lr nan
expect 2 "heads" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --dim 30 --heads 4
expect 2 "--norm" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" --norm groupnorm
expect 2 "accum" "$bin" train --data "$tmp/data.txt" --out "$tmp/x" "${tiny[@]}" --accum 3
expect 2 "not a directory" "$bin" train --data "$tmp/data.txt" --out "$tmp/data.txt" "${tiny[@]}"
expect 2 "Not a directory" "$bin" train --data "$tmp/data.txt" --out "$tmp/data.txt/sub/run" "${tiny[@]}"
# --out's missing parents are created (the main job's runs/ on a fresh clone)
"$bin" train --data "$tmp/data.txt" --out "$tmp/new/parents/run/" "${tiny[@]}" --steps 2 >/dev/null 2>&1 \
  && [[ -s $tmp/new/parents/run/model.safetensors ]] && ok || bad "train --out with missing parents"
cp "$tmp/a/model.safetensors" "$tmp/a.model.bak"
expect 2 "already holds a checkpoint" "$bin" train --data "$tmp/data.txt" --out "$tmp/a" "${tiny[@]}" --steps 12
expect 2 "setting 'lr' is 0.01 here" "$bin" train --data "$tmp/data.txt" --out "$tmp/a" "${tiny[@]}" --steps 12 --lr 1e-2 --resume
expect 2 "differs" "$bin" train --data "$tmp/data.txt" --out "$tmp/a" --layers 2 --heads 2 --dim 16 --ctx 16 --batch 4 --warmup 2 --lr 3e-3 --steps 20 --resume
cmp -s "$tmp/a/model.safetensors" "$tmp/a.model.bak" && ok || bad "a refused command touched the checkpoint"
expect 2 "no checkpoint" "$bin" train --data "$tmp/data.txt" --out "$tmp/adir" "${tiny[@]}" --resume
expect 2 "required" "$bin" sample
expect 2 "No such file" "$bin" sample --model "$tmp/adir"
expect 2 "--top-k" "$bin" sample --model "$tmp/a" --top-k 300
expect 2 "--temperature" "$bin" sample --model "$tmp/a" --temperature -1
expect 2 "too short" "$bin" eval --model "$tmp/a" --data "$tmp/short"
expect 2 "required" "$bin" eval --model "$tmp/a"

# ---- corrupted or mismatched model files: one line naming the problem, status 2
m=$tmp/a/model.safetensors
hlen=$(/usr/bin/python3 -c "import struct,sys; print(struct.unpack('<Q', open(sys.argv[1],'rb').read(8))[0])" "$m")
mkbad() { mkdir -p "$tmp/bad/$1"; cat > "$tmp/bad/$1/model.safetensors"; }
head -c 4 "$m" | mkbad short8
head -c $((8 + hlen + 100)) "$m" | mkbad truncated
{ cat "$m"; printf 'x'; } | mkbad trailing
{ head -c 8 "$m"; head -c "$hlen" /dev/urandom; tail -c +$((9 + hlen)) "$m"; } | mkbad garbage_header
/usr/bin/python3 - "$m" "$tmp/bad" <<'EOF'
import json, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); data = raw[8 + n:]
def write(name, h, d):
    os.makedirs(f"{out}/{name}", exist_ok=True)
    b = json.dumps(h).encode(); b += b" " * (-len(b) % 8)
    open(f"{out}/{name}/model.safetensors", "wb").write(struct.pack("<Q", len(b)) + b + d)
# a tensor missing (drop the last one by offset, and its bytes)
last = max((k for k in hdr if k != "__metadata__"), key=lambda k: hdr[k]["data_offsets"][0])
h = dict(hdr); b0, b1 = h.pop(last)["data_offsets"]; write("missing_tensor", h, data[:b0])
# a wrong shape (same byte count: transpose a matrix's declared shape)
h = json.loads(json.dumps(hdr)); h["h.0.mlp.c_fc.weight"]["shape"] = h["h.0.mlp.c_fc.weight"]["shape"][::-1]
write("wrong_shape", h, data)
# an extra tensor
h = json.loads(json.dumps(hdr)); end = len(data); h["extra.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [end, end + 4]}
write("extra_tensor", h, data + b"\0\0\0\0")
# config that does not match the tensors (dim 32)
h = json.loads(json.dumps(hdr)); c = json.loads(h["__metadata__"]["config"]); c["dim"] = 32
h["__metadata__"]["config"] = json.dumps(c); write("config_mismatch", h, data)
# a config value the model refuses, and no config at all
h = json.loads(json.dumps(hdr)); c = json.loads(h["__metadata__"]["config"]); c["norm"] = "groupnorm"
h["__metadata__"]["config"] = json.dumps(c); write("bad_config", h, data)
h = json.loads(json.dumps(hdr)); del h["__metadata__"]; write("no_metadata", h, data)
# overlapping offsets
h = json.loads(json.dumps(hdr)); k = sorted((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])[1]
h[k]["data_offsets"] = [h[k]["data_offsets"][0] - 4, h[k]["data_offsets"][1] - 4]; write("overlap", h, data)
# F16 weights of the right shapes are accepted (converted), so not here
EOF
for d in short8 truncated trailing garbage_header missing_tensor wrong_shape extra_tensor config_mismatch bad_config no_metadata overlap; do
  sub=""
  case $d in
    missing_tensor) sub=$(/usr/bin/python3 -c "
import json,struct,sys; raw=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',raw[:8])[0]; h=json.loads(raw[8:8+n])
print(max((k for k in h if k!='__metadata__'), key=lambda k: h[k]['data_offsets'][0]))" "$m");;
    wrong_shape) sub="h.0.mlp.c_fc.weight";;
    extra_tensor) sub="extra.weight";;
    bad_config) sub="groupnorm";;
  esac
  expect 2 "$sub" "$bin" sample --model "$tmp/bad/$d" --tokens 1
  expect 2 "$sub" "$bin" eval --model "$tmp/bad/$d" --data "$tmp/data.txt"
done
# a corrupted checkpoint refuses --resume and stays as it was
cp -r "$tmp/bad/truncated" "$tmp/badresume"; cp "$tmp/a/optimizer.safetensors" "$tmp/badresume/"
expect 2 "model.safetensors" "$bin" train --data "$tmp/data.txt" --out "$tmp/badresume" "${tiny[@]}" --steps 20 --resume
cmp -s "$tmp/bad/truncated/model.safetensors" "$tmp/badresume/model.safetensors" && ok || bad "refused resume changed the file"

finish train/sample/eval
