#!/usr/bin/env bash
# libswitchboard and sbctl build alone (-Dserver=false -Dtests=false) on a machine that has
# neither h2o nor LMDB: pkg-config is shown only the client's dependencies, and the compiler's
# search path for -llmdb is never asked. usage: check_client_only.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-client-only-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/pc"
# The .pc files of the client's dependencies and what they require, and nothing else.
for pkg in libcurl jansson; do
  for dep in $pkg $(pkg-config --print-requires --print-requires-private "$pkg" | awk '{print $1}'); do
    f=$(pkg-config --variable=pcfiledir "$dep")/$dep.pc
    [ -f "$f" ] && cp "$f" "$tmp/pc/"
  done
done
PKG_CONFIG_LIBDIR=$tmp/pc meson setup "$tmp/build" "$src" -Dserver=false -Dtests=false \
  > "$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
if grep -Eq "libh2o|lmdb" "$tmp/build/meson-logs/meson-log.txt"; then
  echo "the client-only build looked for h2o or LMDB:"; grep -E "libh2o|lmdb" "$tmp/build/meson-logs/meson-log.txt" | head -5
  exit 1
fi
ninja -C "$tmp/build" > "$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; exit 1; }
for f in client/libswitchboard.so.0 client/libswitchboard.a client/sbctl; do
  [ -e "$tmp/build/$f" ] || { echo "not built: $f"; exit 1; }
done
[ ! -e "$tmp/build/server" ] || { echo "the server was built"; exit 1; }
echo "libswitchboard and sbctl built alone, with no h2o or LMDB in sight"
