#!/usr/bin/env python3
"""The web UI's server time per page, and what the UI costs the registry when nobody uses it (issue 16).

1. One Berth (one worker, `log.level: debug`) on a store of 10,000 repositories (written straight into
   registry:2's layout, as test_ui.py does) plus a pushed image of 100 layers. Each page is asked UI_REQUESTS
   times on one kept-alive connection after a warm-up; the time is from sending the request to its last byte.
   Beside it the pool's own split from the debug line `ui: <path>: read X ms, rendered Y ms`.
2. The manifest GET load (wrk, 64 connections, as bench/bench.py) against two Berths on the same store, one with
   `ui.enabled: true` (nobody opening a page) and one with `ui.enabled: false`, in alternating rounds (the
   other one SIGSTOPped), as a ratio; with the CPU per request from /proc (utime+stime), which the other
   builds on a shared machine disturb less than the rate.
Writes the section "## Web UI" of bench/README.md. Environment: BERTH_BIN, BENCH_SECONDS (per wrk run,
default 5), BENCH_ROUNDS (default 3), UI_REQUESTS (per page, default 200).
"""
import datetime
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Server, pushes, wrk, replace_section)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "integration"))
from imagebuild import write_repositories  # noqa: E402  (the 10,000 repositories test_ui.py pages through)

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
REQUESTS = int(os.environ.get("UI_REQUESTS", "200"))
bench.SECONDS = SECONDS
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def canonical(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def push_image(base, name, tag, layers):
    """An image of `layers` small distinct layers with a config of history, env and labels."""
    blobs = [os.urandom(64) + i.to_bytes(4, "big") for i in range(layers)]
    config = canonical({"architecture": "amd64", "os": "linux", "created": "2026-12-01T00:00:00Z",
                        "config": {"Env": ["PATH=/usr/bin", "LANG=C.UTF-8"], "Entrypoint": ["/bin/app"], "Labels": {"org.example": "bench"}},
                        "rootfs": {"type": "layers", "diff_ids": [bench.digest(b) for b in blobs]},
                        "history": [{"created": "2026-12-01T00:00:00Z", "created_by": f"RUN step {i}"} for i in range(layers)]})
    for blob in blobs + [config]:
        bench.push_monolithic(base, name, blob, bench.digest(blob))
    manifest = canonical({"schemaVersion": 2, "mediaType": bench.OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": bench.digest(config), "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": bench.digest(b), "size": len(b)} for b in blobs]})
    r = bench._request(base, "PUT", f"/v2/{name}/manifests/{tag}", manifest, {"Content-Type": bench.OCI_MANIFEST})
    assert r.status == 201, r.status


def start(workdir, name, root, ui, log_level="warn"):
    config = os.path.join(workdir, f"{name}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog: {{level: {log_level}}}\nhttp: {{addr: 127.0.0.1:PORT}}\n"
                f"storage: {{filesystem: {{rootdirectory: {root}}}}}\nworkers: 1\nui: {{enabled: {'true' if ui else 'false'}}}\n")
    port = bench.free_port()
    text = open(config).read().replace("PORT", str(port))
    with open(config, "w") as f:
        f.write(text)
    return bench.Server(name, [bench.BERTH, "serve", "--config", config], workdir, port=port)


def time_page(server, path):
    """Seconds from the request to its last byte, REQUESTS times on one kept-alive connection (after 5 warm-ups)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    times = []
    size = 0
    for i in range(REQUESTS + 5):
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, (path, response.status)
        size = len(body)
        if i >= 5:
            times.append(elapsed)
    conn.close()
    times.sort()
    return times, size


def split_of(log, path, since):
    """The pool's (read, rendered) milliseconds of `path` from the debug lines written after offset `since`."""
    text = open(log, "rb").read()[since:].decode(errors="replace")
    pattern = re.compile(r"ui: " + re.escape(path) + r": read ([0-9.]+) ms, rendered ([0-9.]+) ms")
    pairs = [(float(m.group(1)), float(m.group(2))) for m in pattern.finditer(text)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def cpu_seconds(server):
    total = 0
    for pid in server.pids():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def ms(seconds):
    return f"{1000 * seconds:.2f}"


def main():
    workdir = tempfile.mkdtemp(prefix="berth-bench-ui-")
    root = os.path.join(workdir, "root")
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"writing 10,000 repositories into {root}", flush=True)
    write_repositories(root, 10_000)
    try:
        server = start(workdir, "ui-debug", root, ui=True, log_level="debug")
        push_image(server.base, "big/layers", "v1", 100)
        push_image(server.base, "bench/app", "latest", 2)
        pages = [("repositories, first page of 50 (10,000)", "/ui/"),
                 ("repositories, a page deep in the list", "/ui/?n=50&last=org57/service-05000"),
                 ("search over 10,000 names, 100 matches", "/ui/?q=service-099"),
                 ("repositories, page of 200 (the most)", "/ui/?n=200"),
                 ("repository page (one tag)", "/ui/r/big/layers"),
                 ("manifest of 100 layers", "/ui/r/big/layers/-/manifest/v1"),
                 ("overview", "/ui/overview")]
        rows = []
        for label, path in pages:
            since = os.path.getsize(server.log)
            times, size = time_page(server, path)
            reads, renders = split_of(server.log, path.split("?")[0], since)
            row = (label, statistics.median(times), times[int(len(times) * 0.99) - 1], max(times),
                   statistics.median(reads) if reads else float("nan"), statistics.median(renders) if renders else float("nan"), size)
            rows.append(row)
            print(f"{label}: median {ms(row[1])} ms, p99 {ms(row[2])} ms, max {ms(row[3])} ms; read {row[4]:.2f} ms, "
                  f"rendered {row[5]:.2f} ms (medians); {size} bytes", flush=True)
        server.stop()

        on = start(workdir, "ui-on", root, ui=True)
        off = start(workdir, "ui-off", root, ui=False)
        url = "/v2/bench/app/manifests/latest"
        results = {"on": [], "off": []}
        for round_ in range(ROUNDS):
            for key, server_, other in (("on", on, off), ("off", off, on)) if round_ % 2 == 0 else (("off", off, on), ("on", on, off)):
                other.pause()
                before = cpu_seconds(server_)
                result = bench.wrk(server_.base + url, 64, bench.ACCEPT)
                cpu = cpu_seconds(server_) - before
                other.resume()
                requests_done = result["rps"] * SECONDS
                results[key].append((result["rps"], 1e6 * cpu / requests_done))
                print(f"round {round_ + 1} ui {key}: {result['rps']:.0f} req/s, {1e6 * cpu / requests_done:.1f} µs CPU/request", flush=True)
        on.stop()
        off.stop()
    finally:
        for s in bench.STARTED:
            s.stop()

    def spread(values, fmt):
        return f"**{fmt.format(statistics.median(values))}** [{fmt.format(min(values))}–{fmt.format(max(values))}]"

    rates = {k: [r for r, _ in v] for k, v in results.items()}
    cpus = {k: [c for _, c in v] for k, v in results.items()}
    ratios = [a / b for a, b in zip(rates["on"], rates["off"])]
    cpu_ratios = [a / b for a, b in zip(cpus["on"], cpus["off"])]
    table = "\n".join(f"| {label} | {ms(median)} | {ms(p99)} | {ms(worst)} | {read:.2f} | {render:.2f} | {size:,} |"
                      for label, median, p99, worst, read, render, size in rows)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=bench.HERE).stdout.strip()
    section = f"""## Web UI

`bench/ui.py` ({started:%Y-%m-%d %H:%M} UTC, commit {commit}, `{os.path.relpath(bench.BERTH)}`, one worker). **The machine
(2 cores) is shared with other builds and benchmarks: single figures move by 2x between runs; read the medians and
the ranges, not the maxima.** Pages: {REQUESTS} requests each on one kept-alive connection after 5 warm-ups, timed
in the client from the request to its last byte (so it includes the loop's hand-off to the pool and back);
"read" and "rendered" are the medians of the pool's own split (`log.level: debug`: `ui: <path>: read X ms,
rendered Y ms`). The store: 10,000 repositories of one tag each, an image of 100 layers (with a config of 100
history entries).

| Page | median ms | p99 ms | max ms | read ms | rendered ms | bytes |
|---|---|---|---|---|---|---|
{table}

Manifest GET (wrk, 2 threads, 64 kept-alive connections, {SECONDS} s a run, {ROUNDS} alternating rounds, the
other server SIGSTOPped) on the same store, `ui.enabled: true` with nobody opening a page against
`ui.enabled: false`: median **[min–max]**

| | ui on | ui off | on / off |
|---|---|---|---|
| req/s | {spread(rates['on'], '{:,.0f}')} | {spread(rates['off'], '{:,.0f}')} | {spread(ratios, '{:.3f}')} |
| CPU µs per request (utime+stime) | {spread(cpus['on'], '{:.1f}')} | {spread(cpus['off'], '{:.1f}')} | {spread(cpu_ratios, '{:.3f}')} |
"""
    if os.environ.get("UI_BENCH_NO_README"):
        print(section)
    else:
        bench.replace_section("## Web UI", section)


if __name__ == "__main__":
    main()
