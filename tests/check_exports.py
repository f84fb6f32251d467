#!/usr/bin/env python3
"""The shared library exports exactly the functions switchboard.h declares, as listed in
libswitchboard.map: no more (hidden internals stay hidden), no fewer."""
import re
import subprocess
import sys

header, mapfile, lib = sys.argv[1:4]
declared = set(re.findall(r'^SB_EXPORT\b[^;(]*?\b(sb_\w+)\s*\(', open(header).read(), re.M))
listed = set(re.findall(r'^\s*(sb_\w+);', open(mapfile).read(), re.M))
out = subprocess.run(['nm', '-D', '--defined-only', lib], check=True, capture_output=True,
                     text=True).stdout
exported = {m.group(1) for m in re.finditer(r'^\S+ [TDBRVW] (\w+?)(@@?[\w.]+)?$', out, re.M)}
exported -= {'SWITCHBOARD_0', 'SWITCHBOARD_0.2'}

ok = True
for name, a, b in (('declared in the header but not in the map', declared, listed),
                   ('in the map but not declared in the header', listed, declared),
                   ('exported but not declared', exported, declared),
                   ('declared but not exported', declared, exported)):
    if a - b:
        print(f'{name}: {sorted(a - b)}')
        ok = False
if len(declared) < 10:
    print(f'only {len(declared)} declarations found in {header}: the pattern is broken')
    ok = False
print(f'{len(exported)} exports, {len(declared)} declarations: {"ok" if ok else "MISMATCH"}')
sys.exit(0 if ok else 1)
