# Shared by the CLI test scripts (sourced): a scratch directory removed at
# exit, pass/fail counting, and `expect` for the one-line-error contract.
set -u
bin=$LAMINA_BIN
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
export OMP_WAIT_POLICY=PASSIVE

# expect STATUS SUBSTRING CMD...: exit status, exactly one stderr line containing SUBSTRING
expect() {
  local want=$1 sub=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local n; n=$(grep -c '' "$tmp/err")
  if [[ $rc -eq $want && $n -eq 1 ]] && grep -qF -- "$sub" "$tmp/err"; then ok
  else bad "$* -> status $rc (want $want), stderr ($n lines): $(head -c 400 "$tmp/err")"; fi
}

# finish NAME: the summary line and the exit status
finish() { echo "$1: $pass passed, $fail failed${2:+ $2}"; [[ $fail -eq 0 ]]; exit; }
