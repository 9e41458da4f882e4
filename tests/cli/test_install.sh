#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build a program against it
# with pkg-config and with find_package(lamina), shared and static, using
# the compiler lamina was built with (gcc's and clang's OpenMP runtimes differ).
set -euo pipefail
cc=${LAMINA_CC:-cc}
build=$(dirname "$LAMINA_BIN")
src=$LAMINA_SRC
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp/prefix"/lib*/pkgconfig | head -1 | xargs dirname)
pass=0; fail=0
ok() { echo "ok: $1"; pass=$((pass+1)); }
bad() { echo "FAIL: $1" >&2; fail=$((fail+1)); }

export PKG_CONFIG_PATH="$libdir/pkgconfig"
if "$cc" "$src/tests/consumer/consumer.c" -o "$tmp/pc" $(pkg-config --cflags --libs lamina) -lm \
   && LD_LIBRARY_PATH="$libdir" "$tmp/pc" >/dev/null; then ok "pkg-config, shared"; else bad "pkg-config, shared"; fi
if "$cc" "$src/tests/consumer/consumer.c" -o "$tmp/pcs" $(pkg-config --static --cflags lamina) \
      "$libdir/liblamina.a" $(pkg-config --static --libs-only-L --libs-only-l openblas) -fopenmp -lm \
   && "$tmp/pcs" >/dev/null; then ok "pkg-config, static"; else bad "pkg-config, static"; fi
if cmake -S "$src/tests/consumer" -B "$tmp/cb" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$cc" >/dev/null \
   && cmake --build "$tmp/cb" >/dev/null \
   && LD_LIBRARY_PATH="$libdir" "$tmp/cb/consumer_shared" >/dev/null && "$tmp/cb/consumer_static" >/dev/null; then
  ok "find_package(lamina), shared and static"; else bad "find_package(lamina)"; fi
[[ -x "$tmp/prefix/bin/lamina" ]] && ok "lamina installed" || bad "lamina not installed"
[[ -f "$tmp/prefix/include/lamina.h" ]] && ok "lamina.h installed" || bad "lamina.h not installed"
echo "install: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
