"""Authenticated manifest GET against the same GET unauthenticated: Basic (auth.htpasswd, a cached bcrypt) and
Bearer (auth.builtin's token, verified once and then found in the worker's token cache); three Berths on one
storage root (htpasswd, builtin, none), loaded in alternating rounds by wrk on kept-alive connections. BERTH_BIN=.build/release/berth python3 bench/auth_manifest.py [seconds] [rounds]
(BERTH_WORKERS, default 1; WRK_CONNECTIONS, default 64)."""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import hashlib
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, directory, name, root, auth_path=None, builtin=False):
    port = free_port()
    config = f"version: 0.1\nlog: {{level: warn}}\nhttp: {{addr: 127.0.0.1:{port}}}\nstorage: {{filesystem: {{rootdirectory: {root}}}}}\n"
    if auth_path and builtin:
        # An hour: the token outlives every round, so each request is the cached verification's cost.
        config += (f"auth:\n  builtin:\n    htpasswd: {auth_path}\n    key: {directory}/token.pem\n    expiration: 1h\n"
                   f"    access:\n      - {{account: bench, name: bench, actions: [pull]}}\n")
    elif auth_path:
        config += f"auth:\n  htpasswd:\n    realm: bench\n    path: {auth_path}\n"
    path = os.path.join(directory, f"{name}.yml")
    with open(path, "w") as f:
        f.write(config)
    proc = subprocess.Popen([binary, "serve", "--config", path], stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, f"{name}.log"), "wb"))
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{name} did not start")


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as response:
        return response.status


def bearer_token(port, basic):
    """A pull token for the bench repository from the built-in issuer, as docker's token flow asks for one."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/auth/token?service=berth&scope=repository:bench:pull",
                                 headers={"Authorization": basic})
    with urllib.request.urlopen(req) as response:
        return "Bearer " + json.load(response)["token"]


def cpu_seconds(pid):
    """utime + stime of the server: the process and its workers (with 2 or more)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for path in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{path}/children") as f:
            total += sum(cpu_seconds(int(child)) for child in f.read().split())
    return total


def wrk(port, seconds, connections, auth):
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", "Accept: application/vnd.oci.image.manifest.v1+json"]
    if auth:
        argv += ["-H", f"Authorization: {auth}"]
    out = subprocess.run(argv + [f"http://127.0.0.1:{port}/v2/bench/manifests/latest"], capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit("non-2xx answers:\n" + out)
    total = re.search(r"(\d+) requests in", out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), int(total.group(1))


def main():
    binary = os.environ["BERTH_BIN"]
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    connections = int(os.environ.get("WRK_CONNECTIONS", "64"))
    os.environ.setdefault("BERTH_WORKERS", "1")
    with tempfile.TemporaryDirectory(prefix="berth-auth-bench-") as directory:
        users = os.path.join(directory, "htpasswd")
        # Cost 10, registry:2's default: what a real file holds (only the first request of a worker pays it).
        subprocess.run(["htpasswd", "-B", "-C", "10", "-b", "-c", users, "bench", "bench-password"], check=True, capture_output=True)
        auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        root = os.path.join(directory, "root")
        servers = [start(binary, directory, "auth", root, users), start(binary, directory, "open", root),
                   start(binary, directory, "token", root, users, builtin=True)]
        (auth_proc, auth_port), (open_proc, open_port), (token_proc, token_port) = servers
        try:
            config = b"{}"
            digest = "sha256:" + hashlib.sha256(config).hexdigest()
            base = f"http://127.0.0.1:{open_port}"
            assert request("POST", f"{base}/v2/bench/blobs/uploads/?digest={digest}", config) == 201
            manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 2},
                                   "layers": []}).encode()
            assert request("PUT", f"{base}/v2/bench/manifests/latest", manifest,
                           {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}) == 201
            # "sent": the same header to the server without auth (which ignores it): the same request bytes, so the
            # difference to "basic" is the gate alone.
            bearer = bearer_token(token_port, auth)
            results = {"basic": [], "bearer": [], "none": [], "sent": []}
            cpu = {"basic": [], "bearer": [], "none": [], "sent": []}
            pids = {"basic": auth_proc.pid, "bearer": token_proc.pid, "none": open_proc.pid, "sent": open_proc.pid}
            for index in range(rounds):
                order = [("basic", auth_port, auth), ("none", open_port, None), ("bearer", token_port, bearer),
                         ("sent", open_port, auth)]
                for name, port, header in (order if index % 2 == 0 else order[::-1]):
                    start_cpu = cpu_seconds(pids[name])
                    rate, count = wrk(port, seconds, connections, header)
                    results[name].append(rate)
                    cpu[name].append((cpu_seconds(pids[name]) - start_cpu) / count * 1e6)
                    print(f"round {index + 1} {name}: {rate:.0f} req/s, {cpu[name][-1]:.1f} us of server CPU per request", flush=True)
            low = min(results["basic"]) / max(results["none"])
            high = max(results["basic"]) / min(results["none"])
            print(f"workers {os.environ['BERTH_WORKERS']}, {connections} connections, {seconds} s x {rounds}: "
                  f"Basic {min(results['basic']):.0f}-{max(results['basic']):.0f} req/s, none "
                  f"{min(results['none']):.0f}-{max(results['none']):.0f} req/s; ratio {low:.2f}-{high:.2f}; server CPU per "
                  f"request Basic {min(cpu['basic']):.1f}-{max(cpu['basic']):.1f} us, none {min(cpu['none']):.1f}-{max(cpu['none']):.1f} us, "
                  f"the header sent to the server without auth {min(cpu['sent']):.1f}-{max(cpu['sent']):.1f} us "
                  f"({min(results['sent']):.0f}-{max(results['sent']):.0f} req/s); Bearer "
                  f"{min(results['bearer']):.0f}-{max(results['bearer']):.0f} req/s, "
                  f"{min(cpu['bearer']):.1f}-{max(cpu['bearer']):.1f} us")
            # Per round, each authenticated server's CPU per request over the unauthenticated one's (same round).
            for name in ("basic", "bearer"):
                ratios = sorted(none / other for none, other in zip(cpu["none"], cpu[name]))
                print(f"{name}: unauthenticated CPU per request / {name}'s, per round: "
                      + ", ".join(f"{r:.2f}" for r in ratios))
        finally:
            for proc, _ in servers:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
