#!/usr/bin/env bash
# The command line's contract: --help/--version succeed; mistakes give one
# line on stderr and exit status 2, never a crash.
set -u
bin=$LAMINA_BIN
pass=0; fail=0
expect() {   # expect STATUS LINES-ON-STDERR(1 or -) ARGS...
  local want=$1 lines=$2; shift 2
  local err; err=$("$bin" "$@" 2>&1 >/dev/null); local rc=$?
  local n; n=$(printf '%s' "$err" | grep -c '' || true)
  if [[ $rc -eq $want && ( $lines == - || $n -eq $lines ) ]]; then pass=$((pass+1))
  else fail=$((fail+1)); echo "FAIL: lamina $* -> status $rc (want $want), stderr lines $n: $err" >&2; fi
}
expect 0 - --help
expect 0 - --version
expect 0 - bench --help
expect 2 1
expect 2 1 frobnicate
expect 2 1 bench
expect 2 1 bench nothing
expect 2 1 bench norm --threads
expect 2 1 bench norm --threads abc
expect 2 1 bench norm --threads 0
expect 2 1 bench norm --threads -3
expect 2 1 bench norm --reps 99999999999999999999
expect 2 1 bench norm --bogus
expect 2 1 bench ffn --threads 1x
expect 2 1 bench act --n 0
expect 2 1 bench train --steps 0
expect 0 - bench act --help
"$bin" --version | grep -q '^lamina [0-9]' && pass=$((pass+1)) || { fail=$((fail+1)); echo "FAIL: --version output" >&2; }
# The BLAS core: a core the user sets is kept; without one, lamina never runs
# on a kernel family it knows to be wrong for an AVX2 CPU (it re-executes
# itself with OPENBLAS_CORETYPE set).
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }
core_of() { "$bin" --version | sed -n 's/^blas: .*(core \(.*\))$/\1/p'; }
check "--version names the BLAS core" '[[ -n $(env -u OPENBLAS_CORETYPE "$bin" --version | sed -n "s/^blas: .*(core \(.*\))$/\1/p") ]]'
check "a user's OPENBLAS_CORETYPE is kept" '[[ $(OPENBLAS_CORETYPE=Prescott core_of) == Prescott ]]'
if grep -q -w avx2 /proc/cpuinfo 2>/dev/null && grep -q -w fma /proc/cpuinfo; then
  check "no SSE-era or misdetected core on an AVX2 CPU" \
    '! env -u OPENBLAS_CORETYPE "$bin" --version | grep -q -i -E "\(core (prescott|core2|nehalem|sandybridge|cooperlake|sapphirerapids)\)"'
  # a core the user chose that lamina would not is kept, and said so where the GEMMs run
  check "a user's SSE-era core is kept and remarked on" \
    '[[ $(OPENBLAS_CORETYPE=Prescott "$bin" --version | grep -c "^note: OPENBLAS_CORETYPE=Prescott is set; on this CPU lamina would run OpenBLAS.s [A-Za-z]* kernels") -eq 1 ]]'
  check "bench train's table carries the note" \
    'OPENBLAS_CORETYPE=Prescott "$bin" bench train --layers 1 --heads 2 --dim 16 --ctx 8 --batch 2 --steps 1 | grep -q "^note: OPENBLAS_CORETYPE=Prescott"'
  check "bench train's JSON stays one JSON object" \
    '[[ $(OPENBLAS_CORETYPE=Prescott "$bin" bench train --layers 1 --heads 2 --dim 16 --ctx 8 --batch 2 --steps 1 --json | grep -c "") -eq 1 ]]'
fi
avx512=1
for f in avx512f avx512bw avx512dq avx512vl; do grep -q -w $f /proc/cpuinfo 2>/dev/null || avx512=0; done
if ((avx512)); then
  # OpenBLAS's SkylakeX sgemm measured 1.9x its Haswell one on Zen 5
  check "no AVX2-only core on an AVX-512 CPU" \
    '! env -u OPENBLAS_CORETYPE "$bin" --version | grep -q -i -E "\(core (haswell|zen)\)"'
  check "OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU: kept, with a note naming SkylakeX" \
    '[[ $(OPENBLAS_CORETYPE=Haswell core_of) == Haswell ]] && OPENBLAS_CORETYPE=Haswell "$bin" --version | grep -q "^note: .* SkylakeX kernels"'
  check "OPENBLAS_CORETYPE=SkylakeX: no note" '! OPENBLAS_CORETYPE=SkylakeX "$bin" --version | grep -q "^note:"'
fi
check "bench act times every activation" \
  '[[ $("$bin" bench act --n 1000 --reps 1 --json | grep -c "\"act\": \"gelu_tanh\", \"isa\": \"generic\"") -eq 2 ]]'
for act in gelu_tanh swiglu; do
  check "bench train ($act) times the steps beside their bare linear-layer GEMMs" \
    '"$bin" bench train --layers 1 --heads 2 --dim 16 --ctx 8 --batch 2 --steps 2 --act '$act' --json |
       grep -q "\"linear_gemms_best_ms\": [0-9.]*, \"linear_gemms_gflops\": [0-9.]*, \"step_over_linear_gemms\": [0-9.]*}"'
done
check "LAMINA_ISA=generic is honoured" '[[ $(LAMINA_ISA=generic "$bin" --version | head -1) == *"(isa generic)"* ]]'
if grep -q -w avx2 /proc/cpuinfo 2>/dev/null && grep -q -w fma /proc/cpuinfo; then
  check "LAMINA_ISA=avx2 is honoured" '[[ $(LAMINA_ISA=avx2 "$bin" --version | head -1) == *"(isa avx2)"* ]]'
fi
if grep -q -w avx512dq /proc/cpuinfo 2>/dev/null && grep -q -w avx512bw /proc/cpuinfo && grep -q -w avx512vl /proc/cpuinfo; then
  check "the AVX-512 family is the default where the CPU has it" '[[ $("$bin" --version | head -1) == *"(isa avx512)"* ]]'
fi
echo "cli basics: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
