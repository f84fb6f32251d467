#!/usr/bin/env python3
"""The server's layers, checked from its #include lines (a meson test).

  server/core/   documents, pipeline, snapshot, plan, writer: libc, pthreads, jansson, OpenSSL's
                 digests, and nothing else of the project
  server/store/  the storage engines: core/ and LMDB (the only folder that may include lmdb.h)
  server/http/   loops, replies, resources: core/ and h2o (never store/: it reaches the store
                 through core's interface)
  server/cli/    the command line: any of them
  common/        what the server and the client library share: libc only

Fails, naming the file and line, when an include breaks a rule; and when the folders' imports
form a cycle."""
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server")
common = os.path.join(root, "..", "common")
allowed = {"core": {"core", "common"}, "store": {"store", "core", "common"},
           "http": {"http", "core", "common"}, "cli": {"cli", "core", "store", "http", "common"}}
# System headers a layer may not use (besides what every layer may).
forbidden = {"core": ("h2o", "lmdb.h", "openssl/ssl.h", "curl"), "store": ("h2o", "curl"),
             "http": ("lmdb.h", "curl"), "cli": ("curl",)}
# common/ (shared with the client library) is checked too: libc only.
include = re.compile(r'^\s*#\s*include\s+([<"])([^">]+)[">]')

errors, edges = [], set()
for folder in allowed:
    for dirpath, _, files in os.walk(os.path.join(root, folder)):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.join(root, ".."))
            for no, line in enumerate(open(path, encoding="utf-8"), 1):
                m = include.match(line)
                if not m:
                    continue
                kind, target = m.groups()
                if kind == "<":
                    if target.startswith(forbidden[folder]):
                        errors.append(f"{rel}:{no}: {folder}/ may not include <{target}>")
                    continue
                top = target.split("/")[0] if "/" in target else folder
                if top not in allowed:
                    continue
                edges.add((folder, top))
                if top not in allowed[folder]:
                    errors.append(f'{rel}:{no}: {folder}/ may not include "{target}"')

# common/: libc headers only, and nothing of the project's but itself.
for name in sorted(os.listdir(common)):
    for no, line in enumerate(open(os.path.join(common, name), encoding="utf-8"), 1):
        m = include.match(line)
        if m and (m.group(1) == '"' and "/" in m.group(2) or
                  m.group(1) == "<" and not m.group(2).startswith(("std", "string.h", "stdio.h"))):
            errors.append(f"common/{name}:{no}: common/ includes only libc and itself, not {m.group(2)}")

# A cycle between folders: depth-first search over the folder graph.
graph = {f: {t for (s, t) in edges if s == f and t != f} for f in allowed}
def cycle(node, path):
    for nxt in graph[node]:
        if nxt in path:
            return path[path.index(nxt):] + [nxt]
        found = cycle(nxt, path + [nxt])
        if found:
            return found
    return None
for f in allowed:
    c = cycle(f, [f])
    if c:
        errors.append("the folders' includes form a cycle: " + " -> ".join(c))
        break

for e in errors:
    print(e)
if errors:
    sys.exit(1)
print("layers: " + ", ".join(f"{s} -> {t}" for s, t in sorted(edges) if s != t))
