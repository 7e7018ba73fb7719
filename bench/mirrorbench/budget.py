"""The `budget` scenario: where the CPU of one cold GET goes, and the wall time the machine allows for it.

For each GET (direct from the upstream, through Berth cold, through docker-registry's proxy cold) it takes
the utime + stime of every process taking part (the upstream docker-registry, the client curl, Berth's
worker split into its loop thread and the others, the proxy) from /proc, and the machine's user, system,
idle and steal time from /proc/stat over the GET. With the one-core SHA-256 speed of `openssl speed` it
gives a floor for a cold pull on this machine: the slowest of
  - the direct pull (the upstream and the client as fast as they go),
  - hashing every byte on one core (the last byte is held back until the digest is checked),
  - all the CPU the pull takes, spread over the vCPUs that were not stolen:
    (upstream + client + Berth's least CPU) / (vCPUs x (1 - steal)),
where Berth's least CPU is the hash, receiving every byte once (what curl spends receiving them) and sending
them once (what Berth spends on a warm GET of the same blob, measured right after the cold one).
"""
import os
import re
import subprocess
import tempfile
import time

from bench import MiB
from mirrorbench.clients import curl_argv, parse_times
from mirrorbench.results import in_order
from mirrorbench.servers import REPO, seed

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), seconds; 0 once it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_seconds(pid):
    """{tid: (utime + stime, seconds spent runnable on a run queue but not running)} of a process's threads."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            waited = int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[1]) / 1e9
        except (OSError, IndexError):
            continue
        out[int(tid)] = ((int(fields[11]) + int(fields[12])) / TICK, waited)
    return out


def machine():
    """(user + nice, system + irq + softirq, idle + iowait, steal) of all CPUs, seconds."""
    v = [int(x) / TICK for x in open("/proc/stat").readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return user + nice, system + irq + softirq, idle + iowait, steal


def timed_curl(url, size, cafile=None, clients=1):
    """(seconds, the clients' CPU seconds) of `clients` GETs by curl at once: curl's own time for one, the wall
    clock until the last is done for more."""
    started = time.monotonic()
    outs = [tempfile.TemporaryFile("w+") for _ in range(clients)]
    procs = [subprocess.Popen(curl_argv(url, cafile), stdout=out, stderr=subprocess.STDOUT, text=True) for out in outs]
    cpu = 0.0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
    wall = time.monotonic() - started
    texts = []
    for out in outs:
        out.seek(0)
        texts.append(out.read())
        out.close()
    for p, text in zip(procs, texts):
        assert p.returncode == 0, f"curl {url}: {p.returncode} {text}"
    seconds = [parse_times(text, size)[0] for text in texts]
    return (seconds[0] if clients == 1 else wall), cpu


def measure(url, size, cafile, upstream, server=None, clients=1):
    """One GET (or `clients` at once) with the CPU of everyone taking part: a dict of seconds."""
    up0 = cpu_seconds(upstream.proc.pid)
    workers = server.pids() if server else []
    threads0 = {pid: thread_seconds(pid) for pid in workers}
    process0 = {pid: cpu_seconds(pid) for pid in workers}
    m0 = machine()
    wall, client = timed_curl(url, size, cafile, clients)
    m1 = machine()
    r = {"wall": wall, "client": client, "upstream": cpu_seconds(upstream.proc.pid) - up0}
    if server is not None:
        r["loop"] = r["server"] = r["loop_wait"] = r["others_wait"] = 0.0
        for pid in workers:
            # The process's own total counts the threads that ended during the GET (a download's thread does),
            # which /proc/<pid>/task no longer lists; their waits for a CPU are lost with them.
            r["server"] += cpu_seconds(pid) - process0[pid]
            for tid, (t, waited) in thread_seconds(pid).items():
                t0, waited0 = threads0[pid].get(tid, (0.0, 0.0))
                if tid == pid:
                    r["loop"] += t - t0
                r["loop_wait" if tid == pid else "others_wait"] += waited - waited0
        r["others"] = r["server"] - r["loop"]
    user, system, idle, steal = (b - a for a, b in zip(m0, m1))
    r.update(m_user=user, m_system=system, m_idle=idle, m_steal=steal)
    return r


def sha256_speed():
    """Bytes per second of one core's SHA-256 (OpenSSL's EVP, as Berth's hasher), 1 MiB and 16 KiB blocks."""
    speeds = {}
    for block in (1 << 20, 16384):
        out = subprocess.run(["openssl", "speed", "-seconds", "3", "-evp", "sha256", "-bytes", str(block)],
                             capture_output=True, text=True, timeout=120).stdout
        # The last line: "sha256   <k bytes per second>k"
        speeds[block] = float(re.findall(r"([\d.]+)k\s*$", out.strip())[-1]) * 1000
    return speeds


def budget(a, ups, mirrors, res, log):
    speeds = sha256_speed()
    res.sha256 = speeds
    log(f"budget: sha256 {speeds[1 << 20] / 1e9:.2f} GB/s (1 MiB blocks), {speeds[16384] / 1e9:.2f} GB/s (16 KiB)")
    mib = a.budget_mib
    size, digest = mib * MiB, seed(a.work, ups.plain, mib)
    path = f"/v2/{REPO}/blobs/{digest}"
    upstreams = {"plain": ups.plain, "TLS": ups.tls}
    for round_index in range(a.rounds):
        for kind, remote, cafile in ups.kinds():
            n = a.budget_clients
            group = f"{mib} MiB, {kind} upstream" + (f", {n} clients at once" if n > 1 else "")
            steps = [("direct", None)] + list(a.binaries) + ([("docker-registry proxy", None)] if a.proxy else [])
            for name, binary in in_order(round_index, steps):
                if name == "direct":
                    r = measure(remote + path, size, cafile, upstreams[kind], clients=n)
                    row = "direct from the upstream"
                elif binary is None:
                    proxy = mirrors.proxy(remote, cafile)
                    time.sleep(0.2)
                    r = measure(proxy.base + path, size, None, upstreams[kind], proxy, clients=n)
                    mirrors.done(proxy)
                    row = "docker-registry proxy, cold"
                else:
                    berth = mirrors.berth(binary, remote, cafile)
                    time.sleep(0.2)
                    r = measure(berth.base + path, size, None, upstreams[kind], berth, clients=n)
                    warm = measure(berth.base + path, size, None, upstreams[kind], berth, clients=n)
                    mirrors.done(berth)
                    for key, value in warm.items():
                        res.add("budget-" + key, group, f"{name}, warm", value)
                    row = f"{name}, cold"
                for key, value in r.items():
                    res.add("budget-" + key, group, row, value)
                log(f"  {group}: {row} {r['wall']:.3f} s; CPU s: upstream {r['upstream']:.2f}, client {r['client']:.2f}"
                    + (f", server {r['server']:.2f} (loop {r['loop']:.2f}, others {r['others']:.2f}; waited for a CPU: "
                       f"loop {r['loop_wait']:.2f}, others {r['others_wait']:.2f})" if "server" in r else "")
                    + f"; machine user {r['m_user']:.2f} system {r['m_system']:.2f} idle {r['m_idle']:.2f} steal {r['m_steal']:.2f}")
        log(f"budget: round {round_index + 1} of {a.rounds} done")


def budget_table(a, res):
    cpus = os.cpu_count()
    hash_speed = res.sha256[1 << 20]
    lines = [f"SHA-256 on one core (`openssl speed -evp sha256`): {hash_speed / 1e9:.2f} GB/s with 1 MiB blocks, "
             f"{res.sha256[16384] / 1e9:.2f} GB/s with 16 KiB; {cpus} vCPUs. CPU in core-seconds per GET, medians:", "",
             "| blob, upstream | path | wall | upstream CPU | client CPU | server CPU (loop + others) | server's threads "
             "waiting for a CPU (loop + others) | all CPU | machine idle | steal | floor: direct, hash, CPU/vCPUs | floor | "
             "wall / floor |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = list(dict.fromkeys(g for g, _ in res.rows("budget-wall")))
    for group in groups:
        m = {row: {k: res.median("budget-" + k, group, row) for k in
                   ("wall", "upstream", "client", "server", "loop", "others", "loop_wait", "others_wait", "m_idle", "m_steal")}
             for g, row in res.rows("budget-wall") if g == group}
        direct = m.get("direct from the upstream")
        size = int(group.split()[0]) * MiB
        hash_time = size / hash_speed
        for row, v in m.items():
            total = v["upstream"] + v["client"] + (v["server"] or 0)
            steal = v["m_steal"] / (v["wall"] * cpus)
            cells = [group, row, f"{v['wall']:.3f} s", f"{v['upstream']:.2f}", f"{v['client']:.2f}",
                     f"{v['server']:.2f} ({v['loop']:.2f} + {v['others']:.2f})" if v["server"] is not None else "",
                     f"{v['loop_wait']:.2f} + {v['others_wait']:.2f} s" if v["server"] is not None else "",
                     f"{total:.2f}", f"{v['m_idle']:.2f}", f"{v['m_steal']:.2f} ({steal * 100:.0f} %)"]
            if row.endswith("cold") and direct:
                # Berth's least: the hash, one receive (as curl's) and one send (as its own warm GET).
                warm = m.get(row.replace("cold", "warm"))
                least = hash_time + v["client"] + (warm["server"] if warm else v["client"])
                spread_over = cpus * (1 - steal)
                cpu_floor = (v["upstream"] + v["client"] + least) / spread_over
                floor = max(direct["wall"], hash_time, cpu_floor)
                cells += [f"{direct['wall']:.2f}, {hash_time:.2f}, {cpu_floor:.2f}", f"{floor:.2f} s", f"{v['wall'] / floor:.2f}x"]
            else:
                cells += ["", "", ""]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
