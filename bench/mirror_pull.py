#!/usr/bin/env python3
"""Issue 19's benchmark: pulls of a blob the mirror has not cached, beside a direct pull from the upstream and
beside Debian's docker-registry as a pull-through proxy, on the same bytes, in alternating rounds.
`make bench-mirror [BERTH_BIN=new/berth] [BEFORE=old/berth] [MIRROR_ARGS="--sizes 64,1024 ..."]`.

Scenarios (--scenarios, all by default):
  cold  one client's cold GET per size (a fresh Berth root per GET, `--workers 1`, `fsync: false`, and
        `fsync: true` with --fsync), then one warm GET from the same server; beside the direct GET and
        docker-registry's proxy (a fresh root per GET); a plain upstream and a TLS one (a CA made here with
        the openssl CLI: Berth trusts it through `proxy.cafile`, curl through --cacert, docker-registry's
        proxy through SSL_CERT_FILE).
  many  --clients curl processes at once, cold (a fresh root), then as many warm on the same server, and as
        many straight from the upstream; the time of the whole and of each client, and the upstream's GETs.
  slow  one cold GET by a fast client beside one reading at a tenth of the upstream's speed (curl
        --limit-rate from this round's direct GET): the worker processes' VmRSS/VmHWM sampled through the
        pull; the fast one's time against a fast client alone; the slow one is stopped --slow-grace seconds
        after the fast one ends, and how far it got is reported.

Every client is curl; the timed part is curl's own `time_total` (or the wall clock of all of them for
`many`); bodies go to /dev/null (the mirror checks the digest itself; sizes are checked here). The
upstream is docker-registry on loopback, seeded with a streamed push of a file of random bytes.
Everything runs in a temporary directory; every server started is stopped by PID.
"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import MiB, STARTED, Server, free_port, replace_section  # noqa: E402

REPO = "bench/blob"


def arguments():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--berth", default=env("BERTH_BIN") or ".build/release/berth", help="the binary measured (BERTH_BIN)")
    p.add_argument("--before", default=env("BEFORE") or None, help="a second binary, measured in the same rounds (BEFORE)")
    p.add_argument("--rounds", type=int, default=int(env("MIRROR_ROUNDS", "3")))
    p.add_argument("--scenarios", default="cold,many,slow")
    p.add_argument("--sizes", default="64", help="MiB, comma-separated, for `cold` (the issue: 64,1024,6144)")
    p.add_argument("--no-tls", dest="tls", action="store_false", help="`cold` with the plain upstream only")
    p.add_argument("--no-proxy", dest="proxy", action="store_false", help="leave docker-registry's proxy out")
    p.add_argument("--fsync", action="store_true", help="`cold` also with `fsync: true`")
    p.add_argument("--clients", type=int, default=20, help="clients of `many`")
    p.add_argument("--many-mib", type=int, default=64, help="blob of `many`")
    p.add_argument("--many-workers", type=int, default=1, help="Berth's workers in `many`")
    p.add_argument("--slow-mib", type=int, default=256, help="blob of `slow` (the issue: 6144)")
    p.add_argument("--slow-grace", type=float, default=10.0, help="seconds the slow client may go on after the fast one")
    p.add_argument("--readme", metavar="HEADING", help="also write the tables into bench/README.md under '## HEADING'")
    a = p.parse_args()
    a.binaries = [("berth", os.path.abspath(a.berth))] + ([("before", os.path.abspath(a.before))] if a.before else [])
    for _, path in a.binaries:
        if not os.access(path, os.X_OK):
            sys.exit(f"{path}: not an executable (make build, or BERTH_BIN=...)")
    a.scenarios = a.scenarios.split(",")
    a.sizes = [int(s) for s in a.sizes.split(",")]
    return a


# --- servers ---------------------------------------------------------------------------------------------
def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory):
    """A CA and a certificate for 127.0.0.1 signed by it (the openssl CLI): {ca, cert, key}."""
    os.makedirs(directory)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Berth bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=directory)
    return {name: os.path.join(directory, file) for name, file in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}


def docker_registry(work, name, root, extra="", cafile=None, env=None):
    """docker-registry on a free port; `extra` is YAML appended (http.tls, proxy)."""
    port = free_port()
    config = os.path.join(work, f"{name}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n"
                f"  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}")
    return Server(name, ["docker-registry", "serve", config], work, port=port, cafile=cafile, env=env)


class Upstreams:
    """One docker-registry store served twice: over plain HTTP (pushed to; its access log counts GETs)
    and over TLS."""

    def __init__(self, work, tls):
        root = os.path.join(work, "upstream")
        self.plain = docker_registry(work, "upstream", root)
        self.certs = make_ca(os.path.join(work, "pki")) if tls else None
        self.tls = docker_registry(work, "upstream-tls", root, cafile=self.certs["ca"],
                                   extra=f"  tls:\n    certificate: {self.certs['cert']}\n    key: {self.certs['key']}\n") if tls else None

    def kinds(self):
        return [("plain", self.plain.base, None)] + ([("TLS", self.tls.base, self.certs["ca"])] if self.tls else [])

    def gets(self, digest):
        with open(self.plain.log) as f:
            return sum(1 for line in f if re.search(rf'"GET /v2/{REPO}/blobs/{digest} ', line))


SEEDED = {}  # MiB -> digest: one blob per size, shared by the scenarios


def seed(work, upstream, mib):
    """A blob of `mib` MiB of random bytes pushed to the upstream, streamed from a file that is then removed."""
    if mib in SEEDED:
        return SEEDED[mib]
    path = os.path.join(work, "seed")
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            chunk = os.urandom(MiB)
            h.update(chunk)
            f.write(chunk)
    digest = "sha256:" + h.hexdigest()
    r = requests.post(f"{upstream.base}/v2/{REPO}/blobs/uploads/", timeout=60)
    location = r.headers["Location"]
    location = location if location.startswith("http") else upstream.base + location
    with open(path, "rb") as body:
        r = requests.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=body, timeout=3600,
                         headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    os.remove(path)
    SEEDED[mib] = digest
    return digest


class Mirrors:
    """Starts a fresh server per use: Berth (a binary, a fsync setting) or docker-registry's proxy."""

    def __init__(self, work):
        self.work = work
        self.count = 0

    def berth(self, binary, remote, cafile, workers=1, fsync=False):
        self.count += 1
        n = self.count
        config = os.path.join(self.work, f"berth-{n}.yml")
        with open(config, "w") as f:
            f.write(f"proxy:\n  remoteurl: {remote}\n" + (f"  cafile: {cafile}\n" if cafile else "") +
                    f"storage:\n  filesystem:\n    fsync: {'true' if fsync else 'false'}\n")
        root = os.path.join(self.work, f"berth-{n}")
        server = Server(f"berth-{n}", [binary, "serve", "--config", config, "--addr", "127.0.0.1:PORT", "--root", root,
                                       "--workers", str(workers), "--log-level", "warn"], self.work)
        server.root = root
        return server

    def proxy(self, remote, cafile):
        self.count += 1
        root = os.path.join(self.work, f"proxy-{self.count}")
        server = docker_registry(self.work, f"proxy-{self.count}", root, extra=f"proxy:\n  remoteurl: {remote}\n",
                                 env={"SSL_CERT_FILE": cafile} if cafile else None)
        server.root = root
        return server

    @staticmethod
    def done(server):
        server.stop()
        STARTED.remove(server)
        shutil.rmtree(server.root, ignore_errors=True)


# --- clients -----------------------------------------------------------------------------------------------
CURL_TIMES = "%{time_total} %{size_download} %{time_starttransfer}"


def curl_argv(url, cafile=None, *extra):
    return ["curl", "-sS", "-f", "-o", "/dev/null", "-w", CURL_TIMES, *(["--cacert", cafile] if cafile else []), *extra, url]


def parse_times(out, size):
    total, got, first = out.split()
    assert int(got) == size, f"got {got} bytes of {size}"
    return float(total), float(first)


def pull(url, size, cafile=None):
    """(seconds, seconds to the first byte) of one GET."""
    r = subprocess.run(curl_argv(url, cafile), capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, f"curl {url}: {r.returncode} {r.stderr}"
    return parse_times(r.stdout, size)


def pull_many(url, size, clients):
    """`clients` GETs at once: (wall seconds of them all, [each client's seconds])."""
    started = time.monotonic()
    procs = [subprocess.Popen(curl_argv(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(clients)]
    outs = [p.communicate(timeout=3600) for p in procs]
    wall = time.monotonic() - started
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, f"curl: {p.returncode} {err}"
    return wall, [parse_times(out, size)[0] for out, _ in outs]


class SlowClient:
    """curl at a limited rate whose body is counted here (so a stopped one still tells how far it got)."""

    def __init__(self, url, rate):
        self.proc = subprocess.Popen(["curl", "-sS", "-f", "--limit-rate", str(int(rate)), url],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.received = 0
        self.thread = threading.Thread(target=self._count, daemon=True)
        self.thread.start()

    def _count(self):
        while True:
            part = self.proc.stdout.read1(1 << 20)
            if not part:
                return
            self.received += len(part)

    def stop_after(self, seconds):
        """Waits up to `seconds` for it to finish, then stops it by PID: True when it finished by itself."""
        try:
            self.proc.wait(timeout=seconds)
            finished = True
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            finished = False
        self.thread.join(30)
        return finished


class MemorySampler:
    """The largest VmRSS and VmHWM (MiB) of the server's worker processes, read every 50 ms."""

    def __init__(self, server):
        self.server = server
        self.rss = self.hwm = 0.0
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        pids = self.server.pids()  # children of the berth PID, or itself with one worker
        while self.running:
            for pid in pids:
                try:
                    status = open(f"/proc/{pid}/status").read()
                except OSError:
                    continue
                self.rss = max(self.rss, int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
                self.hwm = max(self.hwm, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.thread.join(10)
        return self.rss, self.hwm


# --- results -----------------------------------------------------------------------------------------------
class Results:
    def __init__(self):
        self.values = {}  # (table, group, row) -> [numbers]

    def add(self, table, group, row, value):
        self.values.setdefault((table, group, row), []).append(value)

    def get(self, table, group, row):
        return self.values.get((table, group, row), [])

    def median(self, table, group, row):
        v = self.get(table, group, row)
        return statistics.median(v) if v else None

    def rows(self, table):
        return [(g, r) for (t, g, r) in self.values if t == table]


def spread(values, unit="s", digits=3):
    if not values:
        return "–"
    return (f"**{statistics.median(values):.{digits}f}** {unit} "
            f"({min(values):.{digits}f}–{max(values):.{digits}f})")


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "–"


def in_order(round_index, steps):
    """Alternating rounds: the steps in order, then reversed."""
    return steps if round_index % 2 == 0 else list(reversed(steps))


# --- scenarios -----------------------------------------------------------------------------------------------
def cold(a, ups, mirrors, res, log):
    digests = {mib: seed(a.work, ups.plain, mib) for mib in a.sizes}
    for round_index in range(a.rounds):
        for mib in a.sizes:
            size, path = mib * MiB, f"/v2/{REPO}/blobs/{digests[mib]}"
            for kind, remote, cafile in ups.kinds():
                group = f"{mib} MiB, {kind} upstream"
                steps = [("direct", None, False)] + [(name, binary, False) for name, binary in a.binaries]
                steps += [(name, binary, True) for name, binary in a.binaries] if a.fsync else []
                steps += [("docker-registry proxy", None, False)] if a.proxy else []
                for name, binary, fsync in in_order(round_index, steps):
                    if name == "direct":
                        t, first = pull(remote + path, size, cafile)
                        res.add("cold", group, "direct from the upstream", t)
                        res.add("ttfb", group, "direct from the upstream", first * 1000)
                        log(f"  {group}: direct {t:.3f} s")
                    elif binary is None:
                        proxy = mirrors.proxy(remote, cafile)
                        t, first = pull(proxy.base + path, size)
                        mirrors.done(proxy)
                        res.add("cold", group, "docker-registry proxy, cold", t)
                        res.add("ttfb", group, "docker-registry proxy, cold", first * 1000)
                        log(f"  {group}: docker-registry proxy cold {t:.3f} s (first byte {first * 1000:.0f} ms)")
                    else:
                        berth = mirrors.berth(binary, remote, cafile, fsync=fsync)
                        t, first = pull(berth.base + path, size)
                        label = f"{name}, cold" + (", fsync: true" if fsync else "")
                        res.add("cold", group, label, t)
                        res.add("ttfb", group, label, first * 1000)
                        line = f"  {group}: {label} {t:.3f} s (first byte {first * 1000:.0f} ms)"
                        if not fsync:
                            w, _ = pull(berth.base + path, size)
                            res.add("cold", group, f"{name}, warm", w)
                            line += f", warm {w:.3f} s"
                        mirrors.done(berth)
                        log(line)
        log(f"cold: round {round_index + 1} of {a.rounds} done")


def many(a, ups, mirrors, res, log):
    mib = a.many_mib
    size, digest = mib * MiB, seed(a.work, ups.plain, mib)
    path = f"/v2/{REPO}/blobs/{digest}"
    group = f"{a.clients} clients, {mib} MiB, Berth workers: {a.many_workers}"
    steps = [("direct", None)] + list(a.binaries)
    for round_index in range(a.rounds):
        for name, binary in in_order(round_index, steps):
            if binary is None:
                wall, each = pull_many(ups.plain.base + path, size, a.clients)
                record(res, group, "direct from the upstream", wall, each)
                log(f"  {group}: direct {wall:.2f} s (clients {min(each):.2f}–{max(each):.2f})")
                continue
            berth = mirrors.berth(binary, ups.plain.base, None, workers=a.many_workers)
            before = ups.gets(digest)
            wall, each = pull_many(berth.base + path, size, a.clients)
            record(res, group, f"{name}, cold", wall, each)
            time.sleep(0.5)  # docker-registry logs a GET once it is answered
            fetched = ups.gets(digest) - before
            res.add("fetches", group, name, fetched)
            warm, warm_each = pull_many(berth.base + path, size, a.clients)
            record(res, group, f"{name}, warm", warm, warm_each)
            mirrors.done(berth)
            log(f"  {group}: {name} cold {wall:.2f} s (clients {min(each):.2f}–{max(each):.2f}, upstream GETs {fetched}), "
                f"warm {warm:.2f} s (clients {min(warm_each):.2f}–{max(warm_each):.2f})")
        log(f"many: round {round_index + 1} of {a.rounds} done")


def record(res, group, row, wall, each):
    res.add("many", group, row, wall)
    res.add("many-client-median", group, row, statistics.median(each))
    res.add("many-client-max", group, row, max(each))


def slow(a, ups, mirrors, res, log):
    mib = a.slow_mib
    size, digest = mib * MiB, seed(a.work, ups.plain, mib)
    path = f"/v2/{REPO}/blobs/{digest}"
    group = f"{mib} MiB"
    for round_index in range(a.rounds):
        direct, _ = pull(ups.plain.base + path, size)
        rate = size / direct / 10
        res.add("slow", group, "direct from the upstream", direct)
        log(f"  {group}: direct {direct:.2f} s: the slow client reads at {rate / 1e6:.0f} MB/s")
        steps = [(name, binary, alone) for name, binary in a.binaries for alone in (True, False)]
        for name, binary, alone in in_order(round_index, steps):
            berth = mirrors.berth(binary, ups.plain.base, None)
            sampler = MemorySampler(berth)
            slow_client = None if alone else SlowClient(berth.base + path, rate)
            fast, _ = pull(berth.base + path, size)
            finished = slow_client.stop_after(a.slow_grace) if slow_client else None
            rss, hwm = sampler.stop()
            mirrors.done(berth)
            if alone:
                res.add("slow", group, f"{name}, fast client alone", fast)
                res.add("slow-rss", group, f"{name}, fast client alone", rss)
                res.add("slow-hwm", group, f"{name}, fast client alone", hwm)
                log(f"  {group}: {name} fast alone {fast:.2f} s, worker RSS max {rss:.1f} MiB (HWM {hwm:.1f})")
                continue
            res.add("slow", group, f"{name}, fast client beside the slow one", fast)
            res.add("slow-rss", group, f"{name}, fast client beside the slow one", rss)
            res.add("slow-hwm", group, f"{name}, fast client beside the slow one", hwm)
            res.add("slow-got", group, name, slow_client.received / size * 100)
            log(f"  {group}: {name} fast beside slow {fast:.2f} s, worker RSS max {rss:.1f} MiB (HWM {hwm:.1f}); "
                f"slow client {'finished' if finished else 'stopped'} at {slow_client.received / MiB:.0f} MiB "
                f"({slow_client.received / size * 100:.0f} %)")
        log(f"slow: round {round_index + 1} of {a.rounds} done")


# --- report --------------------------------------------------------------------------------------------------
def cold_table(a, res):
    lines = ["| blob, upstream | path | time: median (min–max) | first byte, median | × direct | × docker-registry proxy |"
             + (" berth / before |" if a.before else ""),
             "|---|---|---|---|---|---|" + ("---|" if a.before else "")]
    groups = list(dict.fromkeys(g for g, _ in res.rows("cold")))
    for group in groups:
        direct = res.median("cold", group, "direct from the upstream")
        proxy = res.median("cold", group, "docker-registry proxy, cold")
        for g, row in res.rows("cold"):
            if g != group:
                continue
            m = res.median("cold", group, row)
            first = res.median("ttfb", group, row)
            cells = [group, row, spread(res.get("cold", group, row)), f"{first:.0f} ms" if first is not None else "–",
                     ratio(m, direct) if row != "direct from the upstream" else "",
                     ratio(m, proxy) if row.startswith(("berth", "before")) and ", cold" in row else ""]
            if a.before:
                other = res.median("cold", group, row.replace("berth", "before", 1)) if row.startswith("berth") else None
                cells.append(ratio(m, other) if other else "")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def many_table(a, res):
    lines = ["| load | all clients done: median (min–max) | each client: median of medians | slowest client: median |"
             " × warm (same binary) | upstream GETs per cold round |", "|---|---|---|---|---|---|"]
    for group, row in res.rows("many"):
        m = res.median("many", group, row)
        name = row.split(",")[0]
        warm = res.median("many", group, f"{name}, warm") if row.endswith("cold") else None
        fetches = res.get("fetches", group, name) if row.endswith("cold") else []
        lines.append(f"| {group}: {row} | {spread(res.get('many', group, row))} | "
                     f"{res.median('many-client-median', group, row):.2f} s | {res.median('many-client-max', group, row):.2f} s | "
                     f"{ratio(m, warm) if warm else ''} | {', '.join(str(f) for f in fetches)} |")
    return "\n".join(lines)


def slow_table(a, res):
    lines = ["| blob | client | time: median (min–max) | worker VmRSS max, median (max) | VmHWM, median | "
             "fast one's speed beside the slow one, × alone | slow client's share when stopped |", "|---|---|---|---|---|---|---|"]
    for group, row in res.rows("slow"):
        rss = res.get("slow-rss", group, row)
        name = row.split(",")[0]
        speed = ""
        share = ""
        if row.endswith("beside the slow one"):
            speed = ratio(res.median("slow", group, f"{name}, fast client alone"), res.median("slow", group, row))
            share = ", ".join(f"{p:.0f} %" for p in res.get("slow-got", group, name)) + " (each round)"
        lines.append(f"| {group} | {row} | {spread(res.get('slow', group, row))} | "
                     + (f"{statistics.median(rss):.1f} MiB ({max(rss):.1f}) | {res.median('slow-hwm', group, row):.1f} MiB"
                        if rss else "– | –") + f" | {speed} | {share} |")
    return "\n".join(lines)


def report(a, res):
    parts = []
    if res.rows("cold"):
        parts.append("One client, cold (a fresh root per GET, `--workers 1`; warm: the same server again):\n\n" + cold_table(a, res))
    if res.rows("many"):
        parts.append(f"{a.clients} clients at once (curl processes):\n\n" + many_table(a, res))
    if res.rows("slow"):
        parts.append(f"A fast client and one at a tenth of the direct GET's speed, one cold GET (`--workers 1`; the slow "
                     f"one stopped {a.slow_grace:.0f} s after the fast one):\n\n" + slow_table(a, res))
    return "\n\n".join(parts)


def check_space(a, work):
    sizes = {*(a.sizes if "cold" in a.scenarios else []), *([a.many_mib] if "many" in a.scenarios else []),
             *([a.slow_mib] if "slow" in a.scenarios else [])}
    largest = max(sizes, default=0)
    # The upstream's copy of each blob; at most three more of one: the seed file, Berth's and the proxy's (the
    # clients' bodies go to /dev/null).
    needed = (sum(sizes) + 3 * largest + 1024) * MiB
    free = shutil.disk_usage(work).free
    if free < needed:
        sys.exit(f"{work}: {free / 2**30:.1f} GiB free, {needed / 2**30:.1f} GiB needed for {largest} MiB blobs "
                 f"(each once upstream, 3 more copies of the largest, + 1 GiB): choose smaller --sizes/--slow-mib or TMPDIR on a larger disk")
    return free, needed


def main():
    a = arguments()
    a.work = tempfile.mkdtemp(prefix="berth-mirror-pull-")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("mirror_pull: terminated"))
    started = time.monotonic()

    def log(line):
        print(f"[{time.monotonic() - started:7.1f} s] {line}", flush=True)

    try:
        free, needed = check_space(a, a.work)
        log(f"{a.work}: {free / 2**30:.1f} GiB free, {needed / 2**30:.1f} GiB needed; "
            f"binaries {', '.join(f'{n}={p}' for n, p in a.binaries)}; load {os.getloadavg()[0]:.2f}")
        ups = Upstreams(a.work, a.tls)
        mirrors = Mirrors(a.work)
        res = Results()
        for name, run in (("cold", cold), ("many", many), ("slow", slow)):
            if name in a.scenarios:
                run(a, ups, mirrors, res, log)
        text = report(a, res)
        print("\n" + text)
        log(f"done; load {os.getloadavg()[0]:.2f}")
        if a.readme:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            args = " ".join(sys.argv[1:])
            replace_section(f"## {a.readme}", f"## {a.readme}\n\n`bench/mirror_pull.py {args}` ({when}, {a.rounds} "
                                              f"rounds, {os.cpu_count()} cores; binaries: "
                                              f"{', '.join(f'{n} `{p}`' for n, p in a.binaries)}):\n\n{text}\n")
    finally:
        for server in list(STARTED):
            server.stop()
        shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
