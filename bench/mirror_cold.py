#!/usr/bin/env python3
"""One client's cold GET of one blob through Berth's mirror (`--workers 1`, `fsync: false`, a fresh root per GET)
against a direct GET from the upstream (Debian's docker-registry on loopback), in alternating rounds; each timed by
`curl -o /dev/null -w '%{time_total}'`. Prints every figure and min/median/max (issue 19).
usage: bench/mirror_cold.py ROUNDS SIZE_MIB[,SIZE_MIB...] NAME=BINARY[:ENV=VALUE...] [NAME=BINARY ...]"""
import os, subprocess, sys, tempfile, shutil
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import STARTED, Server
from mirror import start_upstream, push_blob

def curl(url):
    out = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])

def main():
    rounds = int(sys.argv[1]); sizes = [int(s) for s in sys.argv[2].split(",")]
    bins = [a.split("=", 1) for a in sys.argv[3:]]
    bins = [(n, b.split(":")[0], dict(kv.split("=") for kv in b.split(":")[1:])) for n, b in bins]
    work = tempfile.mkdtemp(prefix="berth-mirror-cold-")
    results = {}
    try:
        up = start_upstream(work)
        digests = {}
        for mib in sizes:
            data = os.urandom(mib << 20)
            digests[mib] = push_blob(up.base, data); del data
        n = 0
        for r in range(rounds):
            for mib in sizes:
                url = f"{up.base}/v2/bench/blob/blobs/{digests[mib]}"
                t, s = curl(url); assert s == mib << 20
                results.setdefault(("direct", mib), []).append(t)
                for name, b, env in bins:
                    n += 1
                    cfg = os.path.join(work, f"m{n}.yml")
                    open(cfg, "w").write(f"proxy:\n  remoteurl: {up.base}\nstorage:\n  filesystem:\n    fsync: false\n")
                    root = os.path.join(work, f"root{n}")
                    m = Server(f"m{n}", [b, "serve", "--config", cfg, "--addr", "127.0.0.1:PORT", "--root", root,
                                         "--workers", "1", "--log-level", "warn"], work, env=env)
                    t, s = curl(f"{m.base}/v2/bench/blob/blobs/{digests[mib]}"); assert s == mib << 20
                    results.setdefault((name, mib), []).append(t)
                    m.stop(); shutil.rmtree(root, ignore_errors=True)
                    t, s = curl(url)
                    results[("direct", mib)].append(t)
            print(f"round {r+1}", {f"{k[0]}@{k[1]}": v[-1] for k, v in results.items()}, flush=True)
        for k, v in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(f"{k[1]} MiB {k[0]:8s}: min {min(v):.3f} max {max(v):.3f} median {sorted(v)[len(v)//2]:.3f}  all {[round(x,3) for x in v]}")
    finally:
        for s in STARTED: s.stop()
        shutil.rmtree(work, ignore_errors=True)
main()
