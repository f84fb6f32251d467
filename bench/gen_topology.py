#!/usr/bin/env python3
"""Writes a synthetic switchboard topology: N roles over 12 providers, failback chains,
a models registry and a few tenants. Deterministic for a given N (same bytes every run)."""
import json
import random
import sys

def main():
    n_roles = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rnd = random.Random(42)
    providers = [f"provider-{i:02d}" for i in range(12)]
    models = [f"{p}/model-{j}" for p in providers for j in range(8)]
    topo = {
        "providers": {p: {"enabled": True, "description": f"synthetic {p}"} for p in providers},
        "roles": {},
        "failback": {},
        "models": {f"alias-{k}": {"provider": rnd.choice(providers)} for k in range(20)},
        "tenants": {},
    }
    # Chains of 4 across providers, so that a flip changes some roles and leaves others alone.
    for k in range(0, len(models) - 4, 4):
        chain = models[k:k + 4]
        for a, b in zip(chain, chain[1:]):
            topo["failback"][a] = {"next": b}
        topo["failback"][chain[-1]] = {"next": None}
    for r in range(n_roles):
        primary = rnd.choice(models)
        role = {"primary": primary, "description": f"synthetic role {r}"}
        if r % 2:
            role["fallbacks"] = rnd.sample(models + list(topo["models"]), 3)
        topo["roles"][f"role-{r:04d}"] = role
    for t in range(5):
        topo["tenants"][f"tenant-{t}"] = {
            "providers": {providers[t]: {"enabled": False}},
            "roles": {f"role-{t:04d}": {"primary": models[t], "fallbacks": [models[t + 8]]}},
        }
    json.dump(topo, sys.stdout, indent=1, sort_keys=True)

main()
