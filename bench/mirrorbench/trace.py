#!/usr/bin/env python3
"""Where one cold download's wall time goes, from the trace Berth writes when BERTH_DOWNLOAD_TRACE names a
directory (Sources/BerthRegistry/Downloads/DownloadTrace.swift): `trace.py FILE.trace ...`.

It prints, in milliseconds from the first read to the verified end: how long the hashing thread worked on its
pieces and how long it was between them (waiting for bytes, or for a CPU), and the writing thread's work; for traces
of Berth before session 9 (batches on the pool), how long the hash thread worked and waited (and for what: the loop
to take the finished batch, data to arrive, the pool to start the next batch, the write) and the write thread's
work; and for both the upstream's pauses and the longest stretches the loop read nothing while not paused."""
import statistics
import sys


def load(path):
    events = []
    with open(path) as f:
        for line in f:
            at, event, count = line.split()
            events.append((int(at) / 1e6, event, int(count)))
    return events


def summary(events):
    reads = [(t, n) for t, e, n in events if e == "read"]
    start, end = reads[0][0], max(t for t, e, _ in events if e in ("verified", "failed", "joined", "hashEnd"))
    span = end - start
    of = {name: [t for t, e, _ in events if e == name] for name in
          ("cut", "writeStart", "writeEnd", "hashStart", "hashEnd", "joined", "pause", "resume")}
    cuts = [n for _, e, n in events if e == "cut"]
    hashing = sum(b - a for a, b in zip(of["hashStart"], of["hashEnd"]))
    writing = sum(b - a for a, b in zip(of["writeStart"], of["writeEnd"]))
    # The hash thread's gaps between one batch and the next: the write still running, the loop hearing of the
    # join, no data pending when it did (the next cut comes after the join), the pool starting the next hash.
    for_write = sum(max(0.0, w - h) for h, w in zip(of["hashEnd"], of["writeEnd"]))
    to_join = sum(j - max(h, w) for h, w, j in zip(of["hashEnd"], of["writeEnd"], of["joined"]))
    to_cut = sum(max(0.0, c - j) for j, c in zip(of["joined"], of["cut"][1:]))
    to_start = sum(h - max(c, j) for c, h, j in zip(of["cut"][1:], of["hashStart"][1:], of["joined"]))
    paused = 0.0
    for p in of["pause"]:
        later = [r for r in of["resume"] if r >= p]
        paused += (later[0] if later else end) - p
    gaps = sorted(((b[0] - a[0], a[0] - start) for a, b in zip(reads, reads[1:])), reverse=True)
    total = sum(n for _, n in reads)
    head = (f"{total / 2**20:.0f} MiB in {span:.0f} ms from the first read to the end ({total / span / 1e3:.0f} MB/s); "
            f"{len(reads)} reads (median {statistics.median(n for _, n in reads) / 1024:.0f} KiB), ")
    if cuts:  # batches handed to the pool (Berth before session 9)
        lines = [
            head + f"{len(cuts)} batches (median {statistics.median(cuts) / 2**20:.1f} MiB, max {max(cuts) / 2**20:.1f})",
            f"hash thread: working {hashing:.0f} ms ({hashing / span * 100:.0f} %); write thread {writing:.0f} ms",
            f"the hash thread between batches: waiting for the write {for_write:.0f} ms, done -> loop hears {to_join:.0f} ms, "
            f"joined -> next cut (no data pending) {to_cut:.0f} ms, -> the pool starts the hash {to_start:.0f} ms",
            f"before the first batch: {of['cut'][0] - start:.0f} ms; after the last read: {end - reads[-1][0]:.0f} ms",
        ]
    else:  # long-lived download threads over a ring (DownloadThread), one hashing, one writing: pieces, not batches
        pieces = [n for _, e, n in events if e == "hashStart"]
        # Between two pieces the thread either waited for bytes (none published yet) or was not running.
        idle = sum(b - a for a, b in zip(of["hashEnd"], of["hashStart"][1:]))
        lines = [
            head + f"{len(pieces)} pieces (median {statistics.median(pieces) / 1024:.0f} KiB)",
            f"hash thread: working {hashing:.0f} ms ({hashing / span * 100:.0f} %), between pieces {idle:.0f} ms; "
            f"write thread working {writing:.0f} ms",
            f"before the first piece: {of['hashStart'][0] - start:.0f} ms; after the last read: {end - reads[-1][0]:.0f} ms",
        ]
    lines += [
        f"upstream paused {len(of['pause'])} times, {paused:.0f} ms in all",
        "longest stretches without a read (ms, at ms): " + ", ".join(f"{g:.1f} at {t:.0f}" for g, t in gaps[:6]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path)
        print(summary(load(path)))
