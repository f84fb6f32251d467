#!/usr/bin/env bash
# meson install puts the library, its header, its pkg-config file, sbctl and the man pages in
# place, and a workload builds against them the way the example says: with pkg-config only.
# usage: check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
dest=$(mktemp -d "${TMPDIR:-/tmp}/sb-install-XXXXXX")
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
root=$dest$prefix
for f in include/switchboard.h bin/sbctl bin/switchboard share/man/man1/sbctl.1 share/man/man1/switchboard.1; do
  [ -e "$root/$f" ] || { echo "not installed: $f"; exit 1; }
done
pc=$(dirname "$(find "$root" -name libswitchboard.pc)")
[ -n "$pc" ] || { echo "not installed: libswitchboard.pc"; exit 1; }
ls "$pc"/../libswitchboard.so.0 "$pc"/../libswitchboard.a >/dev/null
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$dest
# The README's line that builds the example, run as it is written, in a copy of the source tree.
line=$(grep -m1 '^cc -o review client/examples/review.c ' "$src/README.md") ||
  { echo "README.md has no line that builds client/examples/review.c"; exit 1; }
mkdir -p "$dest/tree/client/examples"
cp "$src/client/examples/review.c" "$dest/tree/client/examples/"
(cd "$dest/tree" && eval "$line") || { echo "the README's line does not build: $line"; exit 1; }
[ -x "$dest/tree/review" ] || { echo "the README's line made no ./review: $line"; exit 1; }
cat > "$dest/version.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <switchboard.h>
int main(void) { puts(sb_version()); return strcmp(sb_version(), SB_VERSION_STRING) != 0; }
C
cc -o "$dest/version" "$dest/version.c" $(pkg-config --cflags --libs libswitchboard)
LD_LIBRARY_PATH=$pc/.. "$dest/version"
cc -static-libgcc -o "$dest/version-static" "$dest/version.c" \
  $(pkg-config --cflags libswitchboard) "$pc/../libswitchboard.a" \
  $(pkg-config --libs libcurl jansson) -pthread
"$dest/version-static"
echo "installed and linkable from $prefix"
