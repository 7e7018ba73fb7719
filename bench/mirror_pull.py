#!/usr/bin/env python3
"""Issue 19's benchmark: pulls of a blob the mirror has not cached, beside a direct pull from the upstream and
beside Debian's docker-registry as a pull-through proxy, on the same bytes, in alternating rounds.
`make bench-mirror [BERTH_BIN=new/berth] [BEFORE=old/berth] [MIRROR_ARGS="--sizes 64,1024 ..."]`.

Scenarios (--scenarios; cold,many,slow by default):
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
  budget one cold GET of --budget-mib per path with the CPU of every process taking part, the machine's idle
        and steal time, one core's SHA-256 speed, and the floor they allow (bench/mirrorbench/budget.py).

Every client is curl; the timed part is curl's own `time_total` (or the wall clock of all of them for
`many`); bodies go to /dev/null (the mirror checks the digest itself; sizes are checked here). The
upstream is docker-registry on loopback, seeded with a streamed push of a file of random bytes.
Everything runs in a temporary directory; every server started is stopped by PID.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import STARTED, replace_section  # noqa: E402
from mirrorbench.budget import budget  # noqa: E402
from mirrorbench.report import check_space, report  # noqa: E402
from mirrorbench.results import Results  # noqa: E402
from mirrorbench.scenarios import cold, many, slow  # noqa: E402
from mirrorbench.servers import Mirrors, Upstreams  # noqa: E402


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
    p.add_argument("--budget-mib", type=int, default=1024, help="blob of `budget`")
    p.add_argument("--budget-clients", type=int, default=1, help="clients at once in `budget` (the issue's 20 cold against 20 warm)")
    p.add_argument("--readme", metavar="HEADING", help="also write the tables into bench/README.md under '## HEADING'")
    a = p.parse_args()
    a.binaries = [("berth", os.path.abspath(a.berth))] + ([("before", os.path.abspath(a.before))] if a.before else [])
    for _, path in a.binaries:
        if not os.access(path, os.X_OK):
            sys.exit(f"{path}: not an executable (make build, or BERTH_BIN=...)")
    a.scenarios = a.scenarios.split(",")
    a.sizes = [int(s) for s in a.sizes.split(",")]
    return a


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
        for name, run in (("cold", cold), ("many", many), ("slow", slow), ("budget", budget)):
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
