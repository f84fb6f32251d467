#!/usr/bin/env python3
"""Benchmark preparation, in two steps.

prepare.py fetch PORT WWW OUT_PATHS
    Fetches every role's answer from switchboard on PORT (one keep-alive connection) and writes
    each body, byte for byte, to WWW/config/<role>, so that nginx serves the same bytes.
    OUT_PATHS gets the list of paths.
prepare.py lua PORT PATHS OUT_200 OUT_304
    Asks the server on PORT for each path's ETag and writes two wrk scripts that rotate over
    the paths: plain GETs, and GETs with If-None-Match (all of which should be 304s)."""
import http.client
import json
import os
import sys


def fetch(port, www, out_paths):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/config")
    roles = sorted(json.loads(conn.getresponse().read())["answers"])
    os.makedirs(os.path.join(www, "config"), exist_ok=True)
    paths = []
    for role in roles:
        path = f"/config/{role}"
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, (path, resp.status)
        with open(os.path.join(www, "config", role), "wb") as f:
            f.write(body)
        paths.append(path)
    json.dump(paths, open(out_paths, "w"))


def lua(port, paths_file, out_200, out_304):
    paths = json.load(open(paths_file))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    etags = []
    for path in paths:
        conn.request("HEAD", path)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200 and resp.getheader("ETag"), (path, resp.status)
        etags.append(resp.getheader("ETag"))
    # Requests are formatted once in init(): wrk's Lua must not be what limits the rate.
    common = "local paths = {%s}\n" % ",".join(json.dumps(p) for p in paths)
    common += "local etags = {%s}\n" % ",".join(json.dumps(e) for e in etags)
    common += "local reqs, i = {}, 0\n"
    body = """
init = function(args)
  for k = 1, #paths do
    reqs[k] = wrk.format("GET", paths[k], %s)
  end
end
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
"""
    open(out_200, "w").write(common + body % "nil")
    open(out_304, "w").write(common + body % '{["If-None-Match"] = etags[k]}')


if __name__ == "__main__":
    if sys.argv[1] == "fetch":
        fetch(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        lua(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
