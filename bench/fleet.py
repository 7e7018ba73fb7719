#!/usr/bin/env python3
"""The mirror fleet's cold pull (issue 18): 20 clients pull one cold 256 MiB blob at once, through
  - one Berth mirror node (no cluster),
  - three independent Berth mirrors behind nginx round-robin (what a fleet of caches without peers does),
  - a fleet of three Berth nodes (cluster.peers) behind nginx round-robin,
each in front of one upstream in this process (Tests/integration/blobupstream.BlobUpstream) that counts its GETs.
Reported per setup: wall time of the 20 pulls, upstream GETs, bytes the nodes fetched from the upstream and
from peers, and the CPU the Berth processes used (utime+stime from /proc), with the machine's load average.

    BERTH_BIN=.build/release/berth python3 bench/fleet.py [--size-mib 256] [--clients 20] [--rounds 1]
"""
import argparse
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "integration"))
from blobupstream import BlobUpstream  # noqa: E402
from fleetutil import MiB, TIMEOUT, Balancer, node_config  # noqa: E402
from regutil import free_port  # noqa: E402

BERTH = os.environ.get("BERTH_BIN", ".build/release/berth")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime+stime of a process and its children (the workers), alive or reaped."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    for p in pids:
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except FileNotFoundError:
            pass
    return total / TICKS


def start_node(workdir, name, port, config_text):
    config = os.path.join(workdir, f"{name}.yml")
    with open(config, "w") as f:
        f.write(config_text)
    log = open(os.path.join(workdir, f"{name}.log"), "ab")
    proc = subprocess.Popen([BERTH, "serve", "--config", config, "--addr", f"127.0.0.1:{port}",
                             "--root", os.path.join(workdir, f"{name}-root"), "--workers", "1"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + TIMEOUT
    while True:
        assert proc.poll() is None, open(os.path.join(workdir, f"{name}.log")).read()
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.05)


def metric_sum(ports, name):
    total = 0
    for port in ports:
        for line in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT).text.splitlines():
            if line.startswith(name + " "):
                total += float(line.split()[1])
    return int(total)


def pull(url, digest):
    with requests.get(f"{url}/v2/bench/blob/blobs/{digest}", stream=True, timeout=TIMEOUT) as r:
        h = hashlib.sha256()
        for part in r.iter_content(MiB):
            h.update(part)
        return r.status_code == 200 and "sha256:" + h.hexdigest() == digest


def run(setup, nodes, clustered, size, clients, workdir):
    upstream = BlobUpstream()
    digest = upstream.add(os.urandom(size * MiB))
    ports = [free_port() for _ in range(nodes)]
    procs = []
    balancer = None
    try:
        for index in range(nodes):
            text = (node_config(pathlib.Path(workdir, f"{setup}{index}.cfg"), upstream.base_url, ports, index).read_text() if clustered
                    else f"log: {{level: info}}\nproxy:\n  remoteurl: '{upstream.base_url}'\n")
            procs.append(start_node(workdir, f"{setup}{index}", ports[index], text))
        url = f"http://127.0.0.1:{ports[0]}"
        if nodes > 1:
            balancer = Balancer(_Dir(workdir, setup), ports)
            url = balancer.base_url
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        load = os.getloadavg()[0]
        results = [None] * clients
        barrier = threading.Barrier(clients)

        def client(i):
            barrier.wait()
            results[i] = pull(url, digest)

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        return {"setup": setup, "ok": sum(results), "wall": wall, "gets": upstream.count(digest),
                "upstream_mib": metric_sum(ports, "berth_mirror_upstream_bytes_total") / MiB,
                "peer_mib": metric_sum(ports, "berth_mirror_peer_bytes_total") / MiB, "cpu": cpu, "load": load}
    finally:
        if balancer:
            balancer.stop()
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        upstream.stop()


def _Dir(workdir, name):
    path = os.path.join(workdir, f"{name}-nginx")
    os.makedirs(path, exist_ok=True)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.clients} clients, one cold {args.size_mib} MiB blob; {os.cpu_count()} cores; berth {BERTH}")
    print(f"{'setup':<24}{'ok':>4}{'wall s':>9}{'upstream GETs':>15}{'from upstream MiB':>19}{'from peers MiB':>16}{'berth CPU s':>13}{'load':>6}")
    with tempfile.TemporaryDirectory(prefix="berth-fleet-") as workdir:
        os.chmod(workdir, 0o755)
        for round in range(args.rounds):
            for setup, nodes, clustered in [("one node", 1, False), ("three, no cluster", 3, False), ("three, cluster.peers", 3, True)]:
                r = run(setup.replace(" ", "").replace(",", "").replace(".", "") + str(round), nodes, clustered,
                        args.size_mib, args.clients, workdir)
                print(f"{setup:<24}{r['ok']:>4}{r['wall']:>9.2f}{r['gets']:>15}{r['upstream_mib']:>19.0f}{r['peer_mib']:>16.0f}"
                      f"{r['cpu']:>13.2f}{r['load']:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
