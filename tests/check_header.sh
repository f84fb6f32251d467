#!/bin/sh
# switchboard.h compiles on its own as C99 and as C++ (pedantic, warnings are errors), so that
# programs in either language can include it; and SB_OPTIONS_INIT is a valid initializer in both.
set -eu
header_dir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/use.c" <<'SRC'
#include "switchboard.h"
int main(void)
{
    sb_options o = SB_OPTIONS_INIT;
    sb_client *c = 0;
    return (int)o.size + (c != 0) + (int)sizeof(sb_status);
}
SRC
cp "$tmp/use.c" "$tmp/use.cc"
cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$header_dir" -c "$tmp/use.c" -o "$tmp/c.o"
c++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$header_dir" -c "$tmp/use.cc" -o "$tmp/cc.o"
echo "switchboard.h: C99 and C++11, pedantic: ok"
