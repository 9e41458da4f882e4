#!/usr/bin/env bash
# lamina inspect: output for good files (one written by a hand-rolled writer
# here, independent of lamina), one-line errors with exit 2 for invalid files
# and 1 for I/O errors.
source "$(dirname "$0")/harness.sh"

# mk FILE HEADER DATA_BYTES [DECLARED_LEN]: 8-byte LE length + header + data (zeros)
mk() {
  local f=$1 hdr=$2 n=$3 len=${4:-}
  [[ -z $len ]] && len=$(printf '%s' "$hdr" | wc -c)
  local hex; hex=$(printf '%016x' "$len")
  local le=""; for i in 7 6 5 4 3 2 1 0; do le+="\\x${hex:$((2*i)):2}"; done
  { printf "$le"; printf '%s' "$hdr"; head -c "$n" /dev/zero; } > "$f"
}

# expect_err STATUS SUBSTRING FILE: one line "lamina inspect: FILE: ...SUBSTRING..." and that status
expect_err() {
  local want=$1 sub=$2 f=$3 out err rc
  out=$("$bin" inspect "$f" 2>"$tmp/err"); rc=$?
  err=$(cat "$tmp/err")
  local n; n=$(printf '%s' "$err" | grep -c '')
  if [[ $rc -eq $want && $n -eq 1 && $err == "lamina inspect: $f: "*"$sub"* && -z $out ]]; then ok
  else bad "inspect $f -> status $rc (want $want), stderr: $err"; fi
}

# ---- a good file: F32, F16, BF16, I64, a scalar, metadata with JSON in it
hdr='{"__metadata__":{"format":"pt","config":"{\"dim\": 8, \"norm\": \"rmsnorm\"}"},"blocks.0.ffn.w1":{"dtype":"F32","shape":[4,2],"data_offsets":[0,32]},"emb":{"dtype":"F16","shape":[3],"data_offsets":[32,38]},"bf":{"dtype":"BF16","shape":[1,1],"data_offsets":[38,40]},"ids":{"dtype":"I64","shape":[2],"data_offsets":[40,56]},"s":{"dtype":"F32","shape":[],"data_offsets":[56,60]}}'
# pad the header with spaces to a multiple of 8
while (( $(printf '%s' "$hdr" | wc -c) % 8 )); do hdr+=' '; done
mk "$tmp/good.safetensors" "$hdr" 60
out=$("$bin" inspect "$tmp/good.safetensors"); rc=$?
[[ $rc -eq 0 ]] && ok || bad "good file: status $rc"
check_line() {   # regex that one output line must match
  if printf '%s\n' "$out" | grep -Eq "$1"; then ok; else bad "no line matching /$1/ in:"$'\n'"$out"; fi
}
check_line '^blocks\.0\.ffn\.w1 +F32 +\[4, 2\] +8 +\[0, 32\)$'
check_line '^emb +F16 +\[3\] +3 +\[32, 38\)$'
check_line '^bf +BF16 +\[1, 1\] +1 +\[38, 40\)$'
check_line '^ids +I64 +\[2\] +2 +\[40, 56\)$'
check_line '^s +F32 +\[\] +1 +\[56, 60\)$'
check_line '^total: 5 tensors, 15 elements, 60 bytes$'
check_line '^metadata: 2 entries$'
check_line '^  format = pt$'
check_line '^  config = \{"dim": 8, "norm": "rmsnorm"\}$'
# tensors appear in file (offset) order
order=$(printf '%s\n' "$out" | awk '$2 ~ /^(F32|F16|BF16|I64)$/ {print $1}' | tr '\n' ' ')
[[ $order == "blocks.0.ffn.w1 emb bf ids s " ]] && ok || bad "order: $order"

# ---- listed out of offset order in the header: printed by offset
mk "$tmp/order.safetensors" '{"z":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}' 4
out=$("$bin" inspect "$tmp/order.safetensors")
order=$(printf '%s\n' "$out" | awk '$2 == "U8" {print $1}' | tr '\n' ' ')
[[ $order == "a z " ]] && ok || bad "offset order: $order"

# ---- an empty (no tensors) file
mk "$tmp/empty_ok.safetensors" '{}      ' 0
out=$("$bin" inspect "$tmp/empty_ok.safetensors"); rc=$?
[[ $rc -eq 0 ]] && printf '%s\n' "$out" | grep -q '^total: 0 tensors, 0 elements, 0 bytes$' && ok || bad "no-tensor file: $rc $out"

# ---- invalid files: exit 2, one line naming the problem
f32='{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}'
mk "$tmp/trunc.st" "$f32" 20;                         expect_err 2 "truncated" "$tmp/trunc.st"
mk "$tmp/trail.st" "$f32" 30;                         expect_err 2 "6 trailing bytes" "$tmp/trail.st"
mk "$tmp/hlen.st" "$f32" 24 5000;                     expect_err 2 "runs past the end" "$tmp/hlen.st"
mk "$tmp/huge.st" "$f32" 24 200000000;                expect_err 2 "100 MB" "$tmp/huge.st"
mk "$tmp/notjson.st" '{"w":' 0;                       expect_err 2 "not valid JSON" "$tmp/notjson.st"
mk "$tmp/notobj.st" '"just a string"' 0;              expect_err 2 "not a JSON object" "$tmp/notobj.st"
mk "$tmp/dtype.st" '{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}' 4;  expect_err 2 "unknown dtype" "$tmp/dtype.st"
mk "$tmp/span.st" '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}' 20; expect_err 2 "'w'" "$tmp/span.st"
mk "$tmp/neg.st" '{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}' 4;   expect_err 2 "non-negative" "$tmp/neg.st"
mk "$tmp/hole.st" '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}' 3
expect_err 2 "hole" "$tmp/hole.st"
mk "$tmp/ovl.st" '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}' 3
expect_err 2 "overlap" "$tmp/ovl.st"
mk "$tmp/dup.st" '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}' 2
expect_err 2 "duplicate" "$tmp/dup.st"
mk "$tmp/meta.st" '{"__metadata__":{"n":1}}' 0;       expect_err 2 "string-to-string" "$tmp/meta.st"
: > "$tmp/empty.st";                                  expect_err 2 "empty file" "$tmp/empty.st"
printf 'abcdefg' > "$tmp/seven.st";                   expect_err 2 "too short" "$tmp/seven.st"
printf '\x03\x00\x00\x00\x00\x00\x00\x00{\xff}' > "$tmp/utf8.st"; expect_err 2 "UTF-8" "$tmp/utf8.st"
# ---- I/O errors: exit 1
expect_err 1 "No such file" "$tmp/missing.safetensors"
expect_err 1 "directory" "$tmp"
# ---- usage
"$bin" inspect --help | grep -q '^usage: lamina inspect FILE' && ok || bad "inspect --help"
for args in "" "a b" "--bogus" "--bogus x"; do
  # shellcheck disable=SC2086
  err=$("$bin" inspect $args 2>&1 >/dev/null); rc=$?
  n=$(printf '%s' "$err" | grep -c '')
  [[ $rc -eq 2 && $n -eq 1 ]] && ok || bad "inspect $args -> $rc, $err"
done
"$bin" --help | grep -q 'inspect' && ok || bad "lamina --help lists inspect"

finish inspect
