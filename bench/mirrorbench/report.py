"""The tables of the mirror benchmark, in Markdown for bench/README.md."""
import shutil
import statistics
import sys

from bench import MiB
from mirrorbench.budget import budget_table
from mirrorbench.results import ratio, spread


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
    if res.rows("budget-wall"):
        parts.append("The CPU of one cold GET (`budget`; `--workers 1`, fresh roots):\n\n" + budget_table(a, res))
    return "\n\n".join(parts)


def check_space(a, work):
    sizes = {*(a.sizes if "cold" in a.scenarios else []), *([a.many_mib] if "many" in a.scenarios else []),
             *([a.slow_mib] if "slow" in a.scenarios else []), *([a.budget_mib] if "budget" in a.scenarios else [])}
    largest = max(sizes, default=0)
    # The upstream's copy of each blob; at most three more of one: the seed file, Berth's and the proxy's (the
    # clients' bodies go to /dev/null).
    needed = (sum(sizes) + 3 * largest + 1024) * MiB
    free = shutil.disk_usage(work).free
    if free < needed:
        sys.exit(f"{work}: {free / 2**30:.1f} GiB free, {needed / 2**30:.1f} GiB needed for {largest} MiB blobs "
                 f"(each once upstream, 3 more copies of the largest, + 1 GiB): choose smaller --sizes/--slow-mib or TMPDIR on a larger disk")
    return free, needed
