"""The scenarios of the mirror benchmark: `cold`, `many`, `slow` (see bench/mirror_pull.py)."""
import statistics
import time

from bench import MiB
from mirrorbench.clients import MemorySampler, SlowClient, pull, pull_many
from mirrorbench.results import in_order
from mirrorbench.servers import REPO, seed


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
