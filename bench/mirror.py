#!/usr/bin/env python3
"""The pull-through mirror's cold pull: CLIENTS clients fetch one uncached BLOB_MIB MiB blob through Berth
(2 workers) at the same moment, against a single pull of the same blob once it is cached.

Debian's docker-registry is the upstream on loopback; its access log counts the upstream GETs. Clients are
curl processes piped into `openssl dgst` (SHA-256 at the machine's OpenSSL speed) (no Python in the data path). Writes a section into bench/README.md.
Environment: BERTH_BIN, MIRROR_CLIENTS (default 20), MIRROR_BLOB_MIB (default 256), MIRROR_ROUNDS (default 3).
"""
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BERTH, STARTED, Server, free_port, replace_section  # noqa: E402

CLIENTS = int(os.environ.get("MIRROR_CLIENTS", "20"))
BLOB_MIB = int(os.environ.get("MIRROR_BLOB_MIB", "256"))
ROUNDS = int(os.environ.get("MIRROR_ROUNDS", "3"))


def start_upstream(workdir):
    port = free_port()
    config = os.path.join(workdir, "upstream.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {workdir}/upstream\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    return Server("upstream", ["docker-registry", "serve", config], workdir, port=port)


def start_mirror(workdir, upstream, index):
    config = os.path.join(workdir, f"mirror-{index}.yml")
    with open(config, "w") as f:
        f.write(f"proxy:\n  remoteurl: {upstream.base}\nstorage:\n  filesystem:\n    fsync: false\n")
    return Server(f"berth-mirror-{index}", [BERTH, "serve", "--config", config, "--addr", "127.0.0.1:PORT",
                                            "--root", os.path.join(workdir, f"mirror-{index}"), "--workers", "2",
                                            "--log-level", "warn"], workdir)


def push_blob(base, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = requests.post(f"{base}/v2/bench/blob/blobs/uploads/")
    location = start.headers["Location"]
    location = location if location.startswith("http") else base + location
    separator = "&" if "?" in location else "?"
    done = requests.put(f"{location}{separator}digest={digest}", data=data,
                        headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


def pull_all(url, clients):
    """Starts `clients` curl | openssl dgst pipelines at once; returns (seconds, digests)."""
    started = time.monotonic()
    procs = [subprocess.Popen(f"curl -sf {url} | openssl dgst -sha256 -r", shell=True, stdout=subprocess.PIPE, text=True)
             for _ in range(clients)]
    digests = ["sha256:" + p.communicate()[0].split()[0] for p in procs]
    return time.monotonic() - started, digests


def upstream_gets(upstream, digest):
    with open(upstream.log) as f:
        return sum(1 for line in f if re.search(rf'"GET /v2/bench/blob/blobs/{digest} ', line))


def main():
    workdir = tempfile.mkdtemp(prefix="berth-mirror-bench-")
    try:
        upstream = start_upstream(workdir)
        cold, warm, warm_all, fetches = [], [], [], []
        for index in range(ROUNDS):
            data = os.urandom(BLOB_MIB * (1 << 20))
            digest = push_blob(upstream.base, data)
            del data
            mirror = start_mirror(workdir, upstream, index)
            url = f"{mirror.base}/v2/bench/blob/blobs/{digest}"
            seconds, digests = pull_all(url, CLIENTS)
            assert all(d == digest for d in digests), f"a client got other bytes: {digests}"
            cold.append(seconds)
            fetches.append(upstream_gets(upstream, digest))
            seconds, digests = pull_all(url, 1)
            assert digests == [digest]
            warm.append(seconds)
            seconds, digests = pull_all(url, CLIENTS)
            assert all(d == digest for d in digests), f"a client got other bytes: {digests}"
            warm_all.append(seconds)
            print(f"round {index + 1}: {CLIENTS} cold clients {cold[-1]:.2f} s, one warm pull {warm[-1]:.2f} s, "
                  f"{CLIENTS} warm clients {warm_all[-1]:.2f} s, upstream GETs of the blob: {fetches[-1]}")
            mirror.stop()
        write_report(cold, warm, warm_all, fetches)
    finally:
        for server in STARTED:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def write_report(cold, warm, warm_all, fetches):
    def spread(values):
        return f"**{statistics.median(values):.2f} s** [{min(values):.2f}–{max(values):.2f}]"
    section = f"""## Mirror: one cold blob, many clients

Measured by `bench/mirror.py` ({len(cold)} rounds, each with a fresh cache): {CLIENTS} clients (`curl | openssl dgst -sha256`)
ask Berth (2 workers, `fsync: false`) at the same moment for one {BLOB_MIB} MiB blob it has not cached,
upstream Debian's docker-registry on loopback; then one client pulls it again, cached, and then all of them.

| load | time | upstream GETs of the blob | every client's digest right |
|---|---|---|---|
| {CLIENTS} clients, cold | {spread(cold)} | {', '.join(map(str, fetches))} | yes |
| 1 client, warm | {spread(warm)} | – | yes |
| {CLIENTS} clients, warm | {spread(warm_all)} | – | yes |

The cold run moves {CLIENTS}x{BLOB_MIB} MiB to the clients while the one upstream download is written,
hashed and followed by all of them; the machine's 2 cores are shared with the clients' curl and openssl.
"""
    replace_section("## Mirror: one cold blob, many clients", section)


if __name__ == "__main__":
    main()
