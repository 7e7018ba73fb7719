#!/usr/bin/env python3
"""Berth beside Debian's docker-registry (CNCF Distribution 2.8) and nginx (the ceiling for reads).

Same content in each, the same loads against each in alternation (A B A B ...) for BENCH_ROUNDS rounds;
medians with min-max spread, ratios to Berth, RSS after each load. Writes the table into bench/README.md.
Environment: BENCH_SECONDS (per wrk run, default 10), BENCH_ROUNDS (default 3), BERTH_BIN.
"""
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

import requests

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BERTH = os.path.abspath(os.environ.get("BERTH_BIN", ".build/release/berth"))
HERE = os.path.dirname(os.path.abspath(__file__))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = f"Accept: {OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
MiB = 1 << 20


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, log, verify=True):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"server exited: {open(log).read()[-2000:]}")
        try:
            if requests.get(url, timeout=1, verify=verify).status_code in (200, 404):
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    sys.exit(f"server never answered {url}")


STARTED = []  # every server process started, stopped on exit whatever happens


class Server:
    def __init__(self, name, argv, workdir, ready_path="/v2/", env=None, port=None, cafile=None):
        """cafile: the server speaks HTTPS with a certificate of this CA."""
        self.name = name
        self.port = port or free_port()
        self.base = f"{'https' if cafile else 'http'}://127.0.0.1:{self.port}"
        self.log = os.path.join(workdir, f"{name}.log")
        self.proc = subprocess.Popen([a.replace("PORT", str(self.port)) for a in argv], stdout=open(self.log, "wb"),
                                     stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        STARTED.append(self)
        wait_ready(self.base + ready_path, self.proc, self.log, verify=cafile or True)

    def pids(self):
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [int(p) for p in children] or [self.proc.pid]

    def rss(self):
        """(largest VmRSS, largest VmHWM) over the serving processes, in MiB."""
        rss, hwm = [], []
        for pid in self.pids():
            try:
                status = open(f"/proc/{pid}/status").read()
            except OSError:
                continue
            rss.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
            hwm.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)
        return (max(rss), max(hwm)) if rss else (0, 0)

    def pause(self):
        """SIGSTOP while another server is measured: no background work (a Go GC, say) steals its cores."""
        for pid in self.pids() + [self.proc.pid]:
            os.kill(pid, signal.SIGSTOP)

    def resume(self):
        for pid in [self.proc.pid] + self.pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self):
        if self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_berth(workdir, workers, fsync=False):
    root = os.path.join(workdir, f"berth-{workers}w-{'fsync' if fsync else 'nofsync'}")
    return Server(f"berth-{workers}w", [BERTH, "serve", "--addr", "127.0.0.1:PORT", "--root", root,
                                        "--workers", str(workers), "--log-level", "warn"], workdir,
                  env={"BERTH_STORAGE_FILESYSTEM_FSYNC": "true" if fsync else "false"})


def start_distribution(workdir):
    port = free_port()
    config = os.path.join(workdir, "distribution.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {workdir}/distribution\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    return Server("distribution", ["docker-registry", "serve", config], workdir, port=port)


def start_nginx(workdir, workers, content):
    port = free_port()
    conf = os.path.join(workdir, f"nginx-{workers}.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes {workers};
pid {workdir}/nginx-{workers}.pid;
error_log {workdir}/nginx-{workers}-error.log error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path {workdir}/nginx-body; proxy_temp_path {workdir}/nginx-proxy;
  fastcgi_temp_path {workdir}/nginx-fcgi; uwsgi_temp_path {workdir}/nginx-uwsgi; scgi_temp_path {workdir}/nginx-scgi;
  types {{ }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {content};
    location /v2/bench/manifests/ {{ default_type {OCI_MANIFEST}; }}
  }}
}}
""")
    return Server(f"nginx-{workers}w", ["nginx", "-c", conf, "-g", "daemon off;"], workdir,
                  ready_path="/v2/bench/manifests/latest", port=port)


class Content:
    def __init__(self):
        self.big = os.urandom(64 * MiB)
        self.small = os.urandom(MiB)
        self.config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        self.manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                               "digest": digest(self.config), "size": len(self.config)},
                                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                                "digest": digest(b), "size": len(b)} for b in (self.big, self.small)]}).encode()

    def load(self, base):
        for blob in (self.config, self.big, self.small):
            push_monolithic(base, "bench", blob, digest(blob))
        r = requests.put(f"{base}/v2/bench/manifests/latest", data=self.manifest, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text

    def write_files(self, root):
        os.makedirs(f"{root}/v2/bench/manifests", exist_ok=True)
        os.makedirs(f"{root}/v2/bench/blobs", exist_ok=True)
        with open(f"{root}/v2/bench/manifests/latest", "wb") as f:
            f.write(self.manifest)
        for blob in (self.config, self.big, self.small):
            with open(f"{root}/v2/bench/blobs/{digest(blob)}", "wb") as f:
                f.write(blob)


# --- pushes (a plain HTTP client: POST, then PUT ?digest= or PATCH chunks; as Docker and skopeo do) ---

def _request(base, method, path, body=b"", headers=None):
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in {**(headers or {}), "Content-Length": str(len(body))}.items():
        conn.putheader(name, value)
    conn.endheaders()
    if body:
        conn.send(memoryview(body))
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _start_upload(base, name):
    r = _request(base, "POST", f"/v2/{name}/blobs/uploads/")
    assert r.status == 202, r.status
    location = urlsplit(urljoin(base + "/", r.getheader("Location")))
    return location.path + ("?" + location.query if location.query else "")


def _with_digest(path, blob_digest):
    return f"{path}{'&' if '?' in path else '?'}digest={blob_digest}"


# The pushes take the blob's digest from the caller: hashing 512 MiB in the client (0.3 s) inside the
# timed part hid most of the server's speed.
def push_monolithic(base, name, blob, blob_digest):
    path = _start_upload(base, name)
    r = _request(base, "PUT", _with_digest(path, blob_digest), blob, {"Content-Type": "application/octet-stream"})
    assert r.status == 201, r.status


def push_chunked(base, name, blob, blob_digest, chunk):
    path = _start_upload(base, name)
    for start in range(0, len(blob), chunk):
        part = memoryview(blob)[start:start + chunk]
        r = _request(base, "PATCH", path, part, {"Content-Type": "application/octet-stream",
                                                 "Content-Range": f"{start}-{start + len(part) - 1}"})
        assert r.status == 202, r.status
        location = urlsplit(urljoin(base + "/", r.getheader("Location")))
        path = location.path + ("?" + location.query if location.query else "")
    r = _request(base, "PUT", _with_digest(path, blob_digest))
    assert r.status == 201, r.status


# --- loads ---

def wrk(url, connections, *headers, method="GET"):
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--timeout", "10s", "-s", os.path.join(HERE, "report.lua")]
    for header in headers:
        argv += ["-H", header]
    out = subprocess.run(argv + [url], capture_output=True, text=True, env={**os.environ, "BENCH_METHOD": method},
                         timeout=SECONDS + 60).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"] or result["status_errors"]:
        print(f"  ! {url}: {result['errors']} socket errors, {result['status_errors']} non-2xx", flush=True)
    return result


def head_sequential(url):
    """wrk and h2load wait for a body after HEAD, so HEAD is timed from Python on one kept-alive connection:
    the figure is latency-bound and comparable between servers, not a throughput ceiling."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    latencies = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        start = time.perf_counter()
        conn.request("HEAD", parts.path)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        latencies.append(time.perf_counter() - start)
    conn.close()
    latencies.sort()
    return {"rps": len(latencies) / SECONDS, "bps": 0, "errors": 0, "status_errors": 0,
            "p50": int(latencies[len(latencies) // 2] * 1e6), "p99": int(latencies[int(len(latencies) * 0.99)] * 1e6)}


def hold_idle_connections(server, count):
    """Keep-alive connections that made one request and then stay idle."""
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /v2/bench/manifests/latest HTTP/1.1\r\nHost: bench\r\n\r\n")
        sockets.append(s)
    for s in sockets:
        s.settimeout(10)
        s.recv(65536)
    return sockets


def manifest_url(server):
    return f"{server.base}/v2/bench/manifests/latest"


def blob_url(server, blob):
    return f"{server.base}/v2/bench/blobs/{digest(blob)}"


def read_loads(content):
    def manifest(connections):
        return lambda s: wrk(manifest_url(s), connections, ACCEPT)

    def with_idle(s):
        sockets = hold_idle_connections(s, 1000)
        try:
            return wrk(manifest_url(s), 64, ACCEPT)
        finally:
            for sock in sockets:
                sock.close()

    return [
        ("manifest GET, 64 conns", "req/s", manifest(64)),
        ("manifest GET, 256 conns", "req/s", manifest(256)),
        ("manifest GET, 64 conns + 1,000 idle", "req/s", with_idle),
        ("blob HEAD, 1 conn, sequential", "req/s", lambda s: head_sequential(blob_url(s, content.small))),
        ("1 MiB blob GET, 64 conns", "GB/s", lambda s: wrk(blob_url(s, content.small), 64)),
        ("64 MiB blob GET, 4 conns", "GB/s", lambda s: wrk(blob_url(s, content.big), 4)),
        ("Range GET 64 KiB of 64 MiB, 64 conns", "req/s", lambda s: wrk(blob_url(s, content.big), 64, "Range: bytes=1048576-1114111")),
    ]


def push_loads():
    blob = os.urandom(512 * MiB)
    blob_digest = digest(blob)
    small = [(b, digest(b)) for b in (os.urandom(MiB) for _ in range(32))]

    def monolithic(s):
        start = time.monotonic()
        push_monolithic(s.base, "push", blob, blob_digest)
        return len(blob) / (time.monotonic() - start)

    def chunked(s):
        start = time.monotonic()
        push_chunked(s.base, "push", blob, blob_digest, 16 * MiB)
        return len(blob) / (time.monotonic() - start)

    def concurrent(s):
        start = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda b: push_monolithic(s.base, "many", *b), small))
        return len(small) / (time.monotonic() - start)

    return [
        ("512 MiB monolithic push", "MB/s", monolithic),
        ("512 MiB push in 16 MiB PATCH chunks", "MB/s", chunked),
        ("32 concurrent 1 MiB pushes", "blobs/s", concurrent),
    ]


def machine_limits(workdir):
    speed = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "3"],
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    sha = float(speed.split()[-1].rstrip("k")) * 1000
    out = subprocess.run(["dd", "if=/dev/zero", f"of={workdir}/dd.out", "bs=1M", "count=512", "conv=fdatasync"],
                         capture_output=True, text=True).stderr.strip().splitlines()[-1]
    os.remove(f"{workdir}/dd.out")
    match = re.search(r"([\d.]+) s, ", out)
    disk = 512 * MiB / float(match.group(1)) if match else 0
    return sha, disk


# --- running and reporting ---

def value_of(result, unit):
    if unit == "req/s":
        return result["rps"], result
    if unit == "GB/s":
        return result["bps"] / 1e9, result
    return result, None


def run_rounds(loads, servers, results, rss):
    for round_index in range(ROUNDS):
        for name, unit, run in loads:
            order = servers if round_index % 2 == 0 else list(reversed(servers))
            for server in order:
                for other in servers:
                    if other is not server:
                        other.pause()
                server.resume()
                raw = run(server)
                value, detail = value_of(raw, unit) if isinstance(raw, dict) else (raw / 1e6 if unit == "MB/s" else raw, None)
                results.setdefault(name, {}).setdefault(server.name, []).append((value, detail))
                rss.setdefault(name, {})[server.name] = server.rss()
                print(f"  round {round_index + 1} {name:40s} {server.name:14s} {value:12.2f} {unit}", flush=True)


def fmt(values):
    numbers = [v for v, _ in values]
    median = statistics.median(numbers)
    spread = f"{min(numbers):.3g}–{max(numbers):.3g}" if len(numbers) > 1 else ""
    latency = ""
    details = [d for _, d in values if d]
    if details and details[0].get("p99") is not None:
        p50 = statistics.median(d["p50"] for d in details) / 1000
        p99 = statistics.median(d["p99"] for d in details) / 1000
        latency = f"<br>p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    return median, f"**{median:,.2f}** ({spread}){latency}" if median < 100 else f"**{median:,.0f}** ({spread}){latency}"


def table(results, rss, unit_of, columns, baseline):
    lines = ["| load | unit | " + " | ".join(columns) + " | " + " | ".join(f"Berth / {c}" for c in columns if c != baseline) + " |",
             "|---|---|" + "---|" * (len(columns) * 2 - 1)]
    for name, by_server in results.items():
        cells, medians = [], {}
        for column in columns:
            if column in by_server:
                medians[column], text = fmt(by_server[column])
                r, h = rss[name].get(column, (0, 0))
                cells.append(f"{text}<br>RSS {r:.1f} / HWM {h:.1f} MiB")
            else:
                cells.append("–")
        ratios = []
        for column in columns:
            if column == baseline:
                continue
            ratios.append(f"{medians[baseline] / medians[column]:.2f}x" if column in medians and medians[column] else "–")
        lines.append(f"| {name} | {unit_of[name]} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def main():
    if not os.path.exists(BERTH):
        sys.exit(f"{BERTH} missing: run `make build` (or set BERTH_BIN)")
    workdir = tempfile.mkdtemp(prefix="berth-bench-")
    os.chmod(workdir, 0o755)  # nginx's workers run as an unprivileged user and must read the content
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    try:
        content = Content()
        nginx_root = os.path.join(workdir, "nginx-root")
        content.write_files(nginx_root)
        sha, disk = machine_limits(workdir)
        print(f"machine: {os.cpu_count()} cores; single-core SHA-256 {sha / 1e9:.2f} GB/s; disk with fdatasync {disk / 1e6:.0f} MB/s")

        berth1, berth2, distribution = start_berth(workdir, 1), start_berth(workdir, 2), start_distribution(workdir)
        nginx1, nginx2 = start_nginx(workdir, 1, nginx_root), start_nginx(workdir, 2, nginx_root)
        servers = [berth1, berth2, distribution, nginx1, nginx2]
        time.sleep(1)  # each Berth worker has answered the readiness GET /v2/; start-up pages are let go
        idle = {server.name: server.rss()[0] for server in (berth1, berth2)}
        for server in (berth1, berth2, distribution):
            content.load(server.base)
        reads, read_rss = {}, {}
        loads = read_loads(content)
        run_rounds(loads, servers, reads, read_rss)
        for server in servers:
            server.stop()

        berth_nofsync = start_berth(workdir, 1, fsync=False)
        berth_nofsync.name = "berth (fsync off)"
        berth_fsync = start_berth(workdir, 1, fsync=True)
        berth_fsync.name = "berth (fsync on)"
        distribution = start_distribution(workdir)
        servers = [berth_nofsync, berth_fsync, distribution]
        pushes, push_rss = {}, {}
        plist = push_loads()
        run_rounds(plist, servers, pushes, push_rss)

        unit_of = {name: unit for name, unit, _ in loads + plist}
        read_table = table(reads, read_rss, unit_of, ["berth-1w", "berth-2w", "distribution", "nginx-1w", "nginx-2w"], "berth-1w")
        push_table = table(pushes, push_rss, unit_of, ["berth (fsync off)", "berth (fsync on)", "distribution"], "berth (fsync off)")
        write_report(read_table, push_table, sha, disk, idle)
    finally:
        for server in STARTED:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def write_report(read_table, push_table, sha, disk, idle):
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""## Latest figures

Measured {when} by `make bench` ({ROUNDS} rounds of {SECONDS} s per load, servers in alternating order;
median in bold, min–max in brackets; wrk with 2 threads on the same {os.cpu_count()}-core machine, so the
load generator shares the cores with the server). Ratios are Berth's median over the other's.
Machine limits for writes: single-core SHA-256 (`openssl speed -evp sha256`, 16 KiB blocks)
**{sha / 1e9:.2f} GB/s**; disk `dd bs=1M count=512 conv=fdatasync` **{disk / 1e6:.0f} MB/s**.
Idle RSS (VmRSS of the largest worker, started and asked `GET /v2/` once, before any load):
{", ".join(f"{name} **{mib:.1f} MiB**" for name, mib in idle.items())}.

### Reads (Berth with 1 and 2 worker processes; ratios against Berth with 1 worker)

{read_table}

### Pushes (one worker; Distribution never flushes, like Berth with `fsync: false`)

{push_table}
"""
    replace_section("## Latest figures", section)


def replace_section(heading, section):
    """Puts `section` (which starts with `heading`) into bench/README.md in place of the old one, or at the end."""
    path = os.path.join(HERE, "README.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    section = section.rstrip() + "\n"
    if heading in text:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("\n" + text[end + 1:] if end != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)
    print(section)


if __name__ == "__main__":
    main()
