#!/usr/bin/env python3
"""Two Berth binaries side by side (`make bench-compare BEFORE=path/to/old/berth`): the hot-path loads of
`make bench` (manifest GET, 64 MiB GET, Range GET, blob HEAD, 512 MiB push), same content, alternating rounds,
one worker each. Answers "did this change slow the hot path?" in about five minutes instead of the full
bench's twenty-five. Prints medians, min-max and the new/old ratio; writes nothing.
Environment as for bench.py (BENCH_SECONDS, BENCH_ROUNDS).
"""
import os
import shutil
import signal
import sys
import tempfile

import bench


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py OLD_BERTH NEW_BERTH")
    old, new = (os.path.abspath(path) for path in sys.argv[1:])
    for path in (old, new):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path}: not an executable")
    workdir = tempfile.mkdtemp(prefix="berth-compare-")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("compare: terminated"))
    try:
        content = bench.Content()
        servers = []
        for name, binary in (("old", old), ("new", new)):
            bench.BERTH = binary
            os.makedirs(os.path.join(workdir, name))
            server = bench.start_berth(os.path.join(workdir, name), 1)
            server.name = name
            content.load(server.base)
            servers.append(server)
        wanted = {"manifest GET, 64 conns", "blob HEAD, 1 conn, sequential", "64 MiB blob GET, 4 conns",
                  "Range GET 64 KiB of 64 MiB, 64 conns"}
        loads = [load for load in bench.read_loads(content) if load[0] in wanted]
        loads += [load for load in bench.push_loads() if load[0] == "512 MiB monolithic push"]
        results, rss = {}, {}
        bench.run_rounds(loads, servers, results, rss)
        unit_of = {name: unit for name, unit, _ in loads}
        print()
        print(bench.table(results, rss, unit_of, ["new", "old"], "new"))
    finally:
        for server in bench.STARTED:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
