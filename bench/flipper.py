#!/usr/bin/env python3
"""Flips providers on and off at a fixed rate over one keep-alive connection, for a duration,
and prints how many flips were sent and acknowledged, and their latency percentiles (ms).
Each flip carries ?force=1: switching off several providers of the synthetic topology at once
leaves some role with no route, which the server otherwise refuses (409) after computing the
whole plan. The benchmark measures writes, not refusals.
usage: flipper.py HOST PORT TOKEN RATE SECONDS PROVIDER..."""
import http.client
import json
import sys
import time

def main():
    host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rate, seconds, providers = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6:]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "X-Change-Reason": "benchmark flip"}
    lat, failed, i = [], 0, 0
    start = time.monotonic()
    while True:
        due = start + i / rate
        now = time.monotonic()
        if due - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        provider = providers[i % len(providers)]
        body = json.dumps({"enabled": (i // len(providers)) % 2 == 1})
        t0 = time.monotonic()
        conn.request("PATCH", f"/admin/providers/{provider}?force=1", body, headers)
        resp = conn.getresponse()
        resp.read()
        lat.append((time.monotonic() - t0) * 1000)
        failed += resp.status != 200
        i += 1
    elapsed = time.monotonic() - start
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0
    print(json.dumps({"flips": len(lat), "failed": failed, "per_second": len(lat) / elapsed,
                      "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] if lat else 0}))

main()
