"""TLS against plain on the same Berth build: one Berth with http.tls and one without, on one root, the same
64 MiB blob and manifest, wrk (which speaks TLS, without verifying) in alternating rounds. First figures of
issue 15's TLS bench; the nginx comparison is for later.

    BERTH_BIN=.build/release/berth python3 bench/tls.py     (BENCH_SECONDS, BENCH_ROUNDS, BERTH_WORKERS)
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "integration"))
from mirrorutil import make_ca_and_server_cert  # noqa: E402
from regutil import free_port  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = os.environ.get("BERTH_WORKERS", "1")
ACCEPT = "Accept: application/vnd.oci.image.manifest.v1+json"


def start(binary, root, tmp, certs=None):
    port = free_port()
    tls = f"  tls: {{certificate: {certs['cert']}, key: {certs['key']}}}\n" if certs else ""
    config = os.path.join(tmp, f"{port}.yml")
    with open(config, "w") as f:
        f.write(f"log: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {root}}}}}\nhttp:\n  addr: 127.0.0.1:{port}\n{tls}")
    proc = subprocess.Popen([binary, "serve", "--config", config], env={**os.environ, "BERTH_WORKERS": WORKERS},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"{'https' if certs else 'http'}://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=certs["ca"]) if certs else None
    for _ in range(400):
        try:
            urllib.request.urlopen(base + "/v2/", context=context, timeout=1)
            return proc, base, context
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{base} did not start")


def request(base, context, method, path, data=None, headers=None):
    r = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(r, context=context, timeout=120) as response:
        return response.headers, response.read()


def load(base, context):
    big = os.urandom(64 << 20)
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    headers, _ = request(base, context, "POST", f"/v2/bench/tls/blobs/uploads/?digest={digest}", big,
                         {"Content-Type": "application/octet-stream"})
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    request(base, context, "POST", f"/v2/bench/tls/blobs/uploads/?digest={config_digest}", config,
            {"Content-Type": "application/octet-stream"})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": 2},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest,
                                       "size": len(big)}]}).encode()
    request(base, context, "PUT", "/v2/bench/tls/manifests/latest", manifest,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    return digest


def wrk(url, connections, *headers):
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--timeout", "10s", "-s", os.path.join(HERE, "report.lua")]
    for header in headers:
        argv += ["-H", header]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=SECONDS + 60).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    binary = os.environ.get("BERTH_BIN", os.path.join(HERE, "..", ".build", "release", "berth"))
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_ca_and_server_cert(os.path.join(tmp, "certs"))
        root = os.path.join(tmp, "root")
        servers = {"plain": start(binary, root, tmp), "tls": start(binary, root, tmp, certs)}
        digest = load(servers["tls"][1], servers["tls"][2])
        loads = {"manifest GET keep-alive, 64 conns (req/s)": (lambda base: wrk(base + "/v2/bench/tls/manifests/latest", 64, ACCEPT), "rps", 1),
                 "64 MiB blob GET, 4 conns (GB/s)": (lambda base: wrk(base + f"/v2/bench/tls/blobs/{digest}", 4), "bps", 1e9)}
        results = {(name, kind): [] for name in loads for kind in servers}
        try:
            for round_number in range(ROUNDS):
                order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for name, (run, field, scale) in loads.items():
                    for kind in order:
                        result = run(servers[kind][1])
                        results[(name, kind)].append(result[field] / scale)
                        print(f"round {round_number + 1} {kind:5} {name}: {result[field] / scale:.2f}"
                              f" (errors {result['errors']}, non-2xx {result['status_errors']})", flush=True)
        finally:
            for proc, _, _ in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        print(f"\n| load ({WORKERS} worker(s), {ROUNDS} rounds of {SECONDS} s) | plain | TLS | TLS/plain |\n|---|---|---|---|")
        for name in loads:
            plain, tls = sorted(results[(name, "plain")]), sorted(results[(name, "tls")])
            median = lambda v: v[len(v) // 2]
            print(f"| {name} | **{median(plain):.2f}** [{plain[0]:.2f}–{plain[-1]:.2f}] | **{median(tls):.2f}** "
                  f"[{tls[0]:.2f}–{tls[-1]:.2f}] | {median(tls) / median(plain):.2f}x |")


if __name__ == "__main__":
    main()
