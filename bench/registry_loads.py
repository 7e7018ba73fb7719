#!/usr/bin/env python3
"""Issue 17's loads that wrk cannot make, driven by `berth bench` against Berth (1 worker) beside Debian's
docker-registry on the same machine: kept-alive manifest HEADs, monolithic 1 MiB pushes, whole-image pushes
(as skopeo pushes) and pulls (as containerd pulls), and mirror cold pulls (a Berth mirror in front of a Berth
upstream beside docker-registry's proxy in front of docker-registry; the upstream's GETs from its /metrics or
its access log). wrk stays the tool for raw GETs beside nginx (bench/bench.py).

`make bench-loads [BERTH_BIN=path] [LOADS_ARGS="--rounds 3 --seconds 3"]`: --rounds rounds per load, the two
registries in alternating order, fresh servers per round; the median and the range of each figure; the
harness's CPU per request (its utime + stime over its requests); the load average before and after. Writes
the section "berth bench loads beside docker-registry" of bench/README.md and, with --svg, the chart of one
`--compare` run (manifest HEAD and whole-image pull). Every server started is stopped by PID.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BERTH, STARTED, Server, replace_section  # noqa: E402

HEADING = "## berth bench loads beside docker-registry (issue 17)"


def start_berth(workdir, name, extra_config=""):
    config = os.path.join(workdir, f"{name}.yml")
    with open(config, "w") as f:
        f.write("log: {level: warn}\nstorage:\n  filesystem: {fsync: false}\n  delete: {enabled: true}\n" + extra_config)
    return Server(name, [BERTH, "serve", "--config", config, "--addr", "127.0.0.1:PORT", "--root", os.path.join(workdir, name),
                         "--workers", "1"], workdir)


def start_distribution(workdir, name, proxy=None, accesslog=False):
    """Its access log off, as in bench/bench.py, except for an upstream whose GETs mirror-cold counts there."""
    from bench import free_port
    port = free_port()
    config = os.path.join(workdir, f"{name}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {'false' if accesslog else 'true'}\nstorage:\n  filesystem:\n    rootdirectory: {workdir}/{name}\n"
                f"  delete:\n    enabled: true\n" + (f"proxy:\n  remoteurl: {proxy}\n" if proxy else "")
                + f"http:\n  addr: 127.0.0.1:{port}\n  secret: bench\n")
    return Server(name, ["docker-registry", "serve", config], workdir, port=port)


def bench(*args):
    """One `berth bench` run: its JSON report and the CPU it used (seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([BERTH, "bench", "--output", "json", *args], capture_output=True, text=True, timeout=900)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"berth bench {' '.join(args)} failed ({done.returncode}): {done.stderr}{done.stdout[:2000]}")
    return json.loads(done.stdout), (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


LOADS = {
    "manifest HEAD, 16 conns": lambda s, seed: ["manifest-head", "--concurrency", "16", "--duration", f"{s}s", "--seed", seed],
    "1 MiB monolithic push, 8 conns": lambda s, seed: ["push-monolithic", "--size", "1M", "--concurrency", "8", "--duration", f"{s}s",
                                                       "--seed", seed],
    "image push (4 x 1 MiB layers), 4 conns": lambda s, seed: ["push-image", "--layers", "4", "--layer-size", "1M", "--concurrency", "4",
                                                               "--requests", "48", "--seed", seed],
    "image pull (4 x 4 MiB layers), 8 conns": lambda s, seed: ["pull-image", "--layers", "4", "--layer-size", "4M", "--concurrency", "8",
                                                               "--duration", f"{s}s", "--verify", "--seed", seed],
}


def figures(scenario, cpu):
    out = {"requests/s": scenario["requests_per_second"], "MiB/s": scenario["bytes_per_second"] / (1 << 20),
           "p50 ms": scenario["latency_us"]["p50"] / 1000, "p99 ms": scenario["latency_us"]["p99"] / 1000,
           "harness CPU µs/request": cpu * 1e6 / max(scenario["requests"], 1), "errors": scenario["error_count"]}
    if "image_latency_us" in scenario:
        out["images/s"] = scenario["images"] / scenario["seconds"]
        out["image p50 ms"] = scenario["image_latency_us"]["p50"] / 1000
    if "blobs_uploaded" in scenario:
        out["images/s"] = scenario["operations"] / scenario["seconds"]
    mirror = scenario.get("mirror")
    if mirror:
        out = {"first byte p50 ms": mirror["first_byte_us"]["p50"] / 1000, "first byte max ms": mirror["first_byte_us"]["max"] / 1000,
               "last byte p50 ms": mirror["last_byte_us"]["p50"] / 1000, "last byte max ms": mirror["last_byte_us"]["max"] / 1000,
               "upstream GETs per round": statistics.mean(r["upstream_fetches"] for r in mirror["rounds"]),
               "errors": scenario["error_count"]}
    return out


def run(args):
    results = {}  # load -> server -> [figures]
    loads_before = os.getloadavg()
    for round_number in range(args.rounds):
        order = ["berth", "docker-registry"] if round_number % 2 == 0 else ["docker-registry", "berth"]
        for load, make in LOADS.items():
            for kind in order:
                with tempfile.TemporaryDirectory() as workdir:
                    server = start_berth(workdir, "berth") if kind == "berth" else start_distribution(workdir, "distribution")
                    try:
                        report, cpu = bench(*make(args.seconds, str(100 + round_number)), server.base)
                    finally:
                        server.stop()
                        STARTED.remove(server)
                results.setdefault(load, {}).setdefault(kind, []).append(figures(report["scenarios"][0], cpu))
        load = f"mirror cold pull, {args.clients} clients x {args.cold_mib} MiB blob"
        for kind in order:
            with tempfile.TemporaryDirectory() as workdir:
                if kind == "berth":
                    upstream = start_berth(workdir, "upstream")
                    mirror = start_berth(workdir, "mirror", f"proxy:\n  remoteurl: '{upstream.base}'\n")
                    extra = []
                else:
                    upstream = start_distribution(workdir, "upstream", accesslog=True)
                    mirror = start_distribution(workdir, "proxy", proxy=upstream.base)
                    extra = ["--upstream-log", upstream.log]
                try:
                    report, cpu = bench("mirror-cold", "--upstream", upstream.base, *extra, "--rounds", "2", "--concurrency",
                                        str(args.clients), "--size", f"{args.cold_mib}M", "--verify", "--seed", str(200 + round_number),
                                        mirror.base)
                finally:
                    for server in (mirror, upstream):
                        server.stop()
                        STARTED.remove(server)
            results.setdefault(load, {}).setdefault(kind, []).append(figures(report["scenarios"][0], cpu))
    return results, loads_before, os.getloadavg()


def cell(values):
    middle = statistics.median(values)
    text = f"**{middle:,.1f}**" if middle < 100 else f"**{middle:,.0f}**"
    return text + (f" ({min(values):,.1f}–{max(values):,.1f})" if len(values) > 1 else "")


def write(results, before, after, args, chart):
    lines = [HEADING, "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `make bench-loads` (bench/registry_loads.py, "
             f"{args.rounds} rounds, {args.seconds} s per timed load, the two registries in alternating order, fresh servers per "
             f"round; median in bold, range in brackets). Berth 1 worker, `fsync: false`; docker-registry as Debian ships it. "
             f"Load average before {before[0]:.2f}, after {after[0]:.2f} (2 vCPUs, shared with the harness and, when "
             f"high, other sessions' builds: read ratios, not absolute rates). Harness CPU per request is `berth bench`'s "
             f"utime + stime over its requests (with `--verify` it hashes every byte).", ""]
    for load, servers in results.items():
        names = list(next(iter(servers.values()))[0].keys())
        lines += [f"**{load}**", "", "| figure | Berth | docker-registry | Berth / docker-registry |", "|---|---|---|---|"]
        for name in names:
            berth = [f[name] for f in servers["berth"]]
            other = [f[name] for f in servers["docker-registry"]]
            if not any(berth + other) and name != "errors":
                continue
            ratio = f"{statistics.median(berth) / statistics.median(other):.2f}x" if statistics.median(other) else "–"
            lines.append(f"| {name} | {cell(berth)} | {cell(other)} | {ratio} |")
        lines.append("")
    if chart:
        lines += [f"The chart of one `--compare` run (`{chart[1]}`):", "", f"![berth bench --svg]({os.path.basename(chart[0])})", ""]
    replace_section(HEADING, "\n".join(lines))


def svg_run(path, seconds):
    with tempfile.TemporaryDirectory() as workdir:
        berth = start_berth(workdir, "berth")
        other = start_distribution(workdir, "distribution")
        command = (f"berth bench manifest-head pull-image --layers 4 --layer-size 4M --duration {seconds}s --concurrency 8 "
                   f"--svg {os.path.basename(path)} --compare DOCKER_REGISTRY BERTH")
        try:
            bench("manifest-head", "pull-image", "--layers", "4", "--layer-size", "4M", "--duration", f"{seconds}s", "--concurrency", "8",
                  "--svg", path, "--compare", other.base, berth.base)
        finally:
            for server in (berth, other):
                server.stop()
                STARTED.remove(server)
        # The chart names the registries by URL; these ports are gone, their names are what a reader wants.
        text = open(path).read().replace(f"{berth.base}/", "Berth, 1 worker").replace(f"{other.base}/", "docker-registry")
        with open(path, "w") as f:
            f.write(text)
    return path, command


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cold-mib", type=int, default=64)
    parser.add_argument("--svg", help="also write the chart of one --compare run here (e.g. bench/berth-bench.svg)")
    args = parser.parse_args()
    try:
        results, before, after = run(args)
        chart = svg_run(os.path.abspath(args.svg), args.seconds) if args.svg else None
        write(results, before, after, args, chart)
    finally:
        for server in list(STARTED):
            server.stop()


if __name__ == "__main__":
    main()
