#!/usr/bin/env python3
"""Soak: Berth under mixed pushes, pulls and deletes (parallel skopeo copies beside raw HTTP clients) with
online GC, for a bounded time and number of operations, on loopback only. It reports the RSS and open
descriptors of every Berth process at idle before, at peak and at idle after, then runs `berth fsck` on the
root (while serving, and after the server stopped), then `fsck --repair` and a last check.

    python3 Tests/soak/soak.py --berth .build/release/berth --duration 600 --workers 2 --gc-interval 5s --gc-delay 0s

Exit status 0 when no operation failed, no worker was replaced, descriptors came back to their idle count and
fsck found no damage (orphans such as the layer links GC leaves are reported, not failed); 1 otherwise. RSS
is reported, not judged: a worker keeps up to 64 MiB of manifests in memory (ManifestCache) by design, and
glibc keeps freed pages. A pull that fails marks its image broken (never deleted after), and fsck must name
every broken image among its damage: the clients check fsck as fsck checks the store.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagebuild import Layout  # noqa: E402
from soak_server import Server  # noqa: E402
from regutil import (OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, canonical, descriptor, digest_of,  # noqa: E402
                     random_bytes)

TIMEOUT = 60  # per HTTP request, only against hangs
COPY_TIMEOUT = 300  # per skopeo copy


class Load:
    """The clients: what is stored (so that a pull or delete never targets what another client is deleting,
    and every failure is Berth's), counts of operations and failures, and the bound on both."""

    def __init__(self, server, workdir, deadline, max_ops):
        self.server = server
        self.workdir = workdir
        self.deadline = deadline
        self.max_ops = max_ops
        self.lock = threading.Lock()
        self.ops = 0
        self.counts = {}
        self.failures = []
        self.refused = []
        self.stored = {}  # (repo, digest) -> set of tags
        self.busy = {}  # (repo, digest) -> clients pulling or pushing it
        self.deleting = set()
        self.broken = set()  # (repo, digest) of images a pull failed on: kept, for fsck to find
        self.layouts = []

    def running(self):
        with self.lock:
            return time.monotonic() < self.deadline and self.ops < self.max_ops

    def count(self, what, ok, detail="", refused=False):
        """`refused`: a manifest push answered "blob unknown" because GC took a blob before the manifest came (with
        a short gc.delay, a correct answer: the client pushes again); not a failure, counted apart."""
        with self.lock:
            self.ops += 1
            self.counts[what] = self.counts.get(what, 0) + 1
            if refused:
                self.refused.append(f"{what}: {detail}"[:2000])
            elif not ok:
                self.failures.append(f"{what}: {detail}"[:2000])

    def take(self, exclusive):
        """A stored image to pull (shared) or delete (exclusive: nobody pulls or pushes it meanwhile)."""
        with self.lock:
            keys = [k for k in self.stored if not (exclusive and self.busy.get(k))]
            if not keys:
                return None
            key = random.choice(keys)
            if exclusive:
                self.deleting.add(key)
                return key, sorted(self.stored.pop(key))
            self.busy[key] = self.busy.get(key, 0) + 1
            return key, sorted(self.stored[key])

    def begin_push(self, key):
        """False while that manifest is being deleted (the delete would take the new tag along)."""
        with self.lock:
            if key in self.deleting:
                return False
            self.busy[key] = self.busy.get(key, 0) + 1
            return True

    def release(self, key, broken=False):
        with self.lock:
            if key in self.deleting:
                self.deleting.discard(key)
            else:
                self.busy[key] -= 1
            if broken:
                self.stored.pop(key, None)
                self.broken.add(key)

    def stored_as(self, repo, digest, tag):
        with self.lock:
            self.stored.setdefault((repo, digest), set()).add(tag)

    def build_layouts(self, count, layer_size):
        for n in range(count):
            layout = Layout(os.path.join(self.workdir, f"layout-{n}"))
            image = layout.add_image(nlayers=3, nfiles=2, layer_size=layer_size, history=f"soak {n}")
            layout.tag("v1", OCI_MANIFEST, image["manifest"])
            self.layouts.append((layout, image["digest"]))

    def skopeo(self, *args):
        p = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=COPY_TIMEOUT,
                           env={**os.environ, "REGISTRY_AUTH_FILE": os.path.join(self.workdir, "auth.json")})
        return p.returncode == 0, p.stderr.strip()[-600:]

    def skopeo_client(self, index):
        """Pushes a layout to a repository of its own (one layout per repository, so a delete, which removes
        every tag on a digest, never takes another layout's tag), pulls and deletes what is stored."""
        tags = 0
        while self.running():
            choice = random.random()
            if choice < 0.45 or not self.stored:
                n = random.randrange(len(self.layouts))
                layout, digest = self.layouts[n]
                repo, tag = f"soak/skopeo-{n}", f"c{index}-{tags}"
                tags += 1
                if not self.begin_push((repo, digest)):
                    continue
                ok, detail = self.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1",
                                         f"docker://{self.server.host}/{repo}:{tag}")
                self.count("skopeo push", ok, detail, refused=not ok and "blob unknown" in detail.lower())
                if ok:
                    self.stored_as(repo, digest, tag)
                self.release((repo, digest))
            elif choice < 0.85:
                taken = self.take(exclusive=False)
                if not taken:
                    continue
                (repo, digest), tags_now = taken
                dest = os.path.join(self.workdir, f"pull-{index}")
                ok, detail = self.skopeo("copy", "--src-tls-verify=false", f"docker://{self.server.host}/{repo}@{digest}",
                                         f"oci:{dest}:v1")
                self.release((repo, digest), broken=not ok)
                shutil.rmtree(dest, ignore_errors=True)
                self.count("skopeo pull", ok, f"{repo}@{digest}: {detail}")
            else:
                taken = self.take(exclusive=True)
                if not taken:
                    continue
                (repo, digest), _ = taken
                ok, detail = self.skopeo("delete", "--tls-verify=false", f"docker://{self.server.host}/{repo}@{digest}")
                self.release((repo, digest))
                self.count("skopeo delete", ok, f"{repo}@{digest}: {detail}")

    def http_client(self, index):
        """Small images pushed, read and deleted over plain HTTP, with tag lists and the catalog between."""
        session = requests.Session()
        base = self.server.base
        pushed = 0
        while self.running():
            repo = f"soak/http-{index}-{pushed % 4}"
            choice = random.random()
            try:
                if choice < 0.4 or not self.stored:
                    config = canonical({"architecture": "amd64", "os": "linux", "nonce": random_bytes(8).hex()})
                    layers = [random_bytes(random.randint(1_000, 300_000)) for _ in range(2)]
                    for blob in [config, *layers]:
                        r = session.post(f"{base}/v2/{repo}/blobs/uploads/?digest={digest_of(blob)}", data=blob,
                                         headers={"Content-Type": "application/octet-stream"}, timeout=TIMEOUT)
                        self.count("http blob push", r.status_code == 201, f"{r.status_code} {r.text[:300]}")
                    manifest = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                          "config": descriptor(OCI_CONFIG, config),
                                          "layers": [descriptor(OCI_LAYER_GZIP, layer) for layer in layers]})
                    tag = f"h{pushed}"
                    pushed += 1
                    r = session.put(f"{base}/v2/{repo}/manifests/{tag}", data=manifest,
                                    headers={"Content-Type": OCI_MANIFEST}, timeout=TIMEOUT)
                    self.count("http manifest push", r.status_code == 201, f"{repo}:{tag} {r.status_code} {r.text[:300]}",
                               refused=r.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in r.text)
                    if r.status_code == 201:
                        self.stored_as(repo, digest_of(manifest), tag)
                elif choice < 0.8:
                    taken = self.take(exclusive=False)
                    if not taken:
                        continue
                    (repo, digest), _ = taken
                    intact = False
                    try:
                        intact = self.read_image(session, repo, digest)
                    finally:
                        self.release((repo, digest), broken=not intact)
                elif choice < 0.9:
                    taken = self.take(exclusive=True)
                    if not taken:
                        continue
                    (repo, digest), _ = taken
                    r = session.delete(f"{base}/v2/{repo}/manifests/{digest}", timeout=TIMEOUT)
                    self.release((repo, digest))
                    self.count("http manifest delete", r.status_code == 202, f"{repo}@{digest} {r.status_code} {r.text[:300]}")
                else:
                    r = session.get(f"{base}/v2/_catalog?n=1000", timeout=TIMEOUT)
                    self.count("http catalog", r.status_code == 200, str(r.status_code))
            except requests.RequestException as error:
                self.count("http error", False, repr(error))

    def read_image(self, session, repo, digest):
        base = self.server.base
        r = session.get(f"{base}/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
        self.count("http manifest get", r.status_code == 200 and digest_of(r.content) == digest, f"{repo}@{digest} {r.status_code}")
        if r.status_code != 200:
            return False
        intact = True
        for item in [json.loads(r.content)["config"], *json.loads(r.content)["layers"]]:
            b = session.get(f"{base}/v2/{repo}/blobs/{item['digest']}", timeout=TIMEOUT)
            ok = b.status_code == 200 and digest_of(b.content) == item["digest"]
            self.count("http blob get", ok, f"{repo}@{item['digest']} {b.status_code} {b.text[:200] if b.status_code != 200 else 'wrong bytes'}")
            intact = intact and ok
        return intact


def summarize(figures):
    return {str(pid): {"role": role, "rss_kib": f[0], "fds": f[1]} for pid, (role, f) in figures.items() if f}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berth", default=os.environ.get("BERTH_BIN", ".build/release/berth"))
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--max-ops", type=int, default=200_000, help="operations at most (a copy is one; default 200000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gc-interval", default="5s")
    parser.add_argument("--gc-delay", default="0s")
    parser.add_argument("--copies", type=int, default=3, help="parallel skopeo clients (default 3)")
    parser.add_argument("--http-clients", type=int, default=2)
    parser.add_argument("--layer-size", type=int, default=200_000, help="bytes per file in a layer (2 files)")
    parser.add_argument("--idle-wait", type=float, default=90, help="seconds to wait for idle figures after the load")
    parser.add_argument("--report", help="write the figures here as JSON")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="berth-soak-")
    with open(os.path.join(workdir, "auth.json"), "w") as f:
        f.write('{"auths": {}}')
    server = Server(os.path.abspath(args.berth), workdir, args.workers, args.gc_interval, args.gc_delay)
    result = {"args": vars(args), "workdir": workdir}
    try:
        time.sleep(3)  # settle
        before = server.figures()
        result["idle_before"] = summarize(before)
        load = Load(server, workdir, time.monotonic() + args.duration, args.max_ops)
        load.build_layouts(4, args.layer_size)
        threads = [threading.Thread(target=load.skopeo_client, args=(i,), daemon=True) for i in range(args.copies)]
        threads += [threading.Thread(target=load.http_client, args=(i,), daemon=True) for i in range(args.http_clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        peak, seen = {}, set()
        while any(thread.is_alive() for thread in threads):
            for pid, (role, figures) in server.figures().items():
                seen.add(pid)
                if figures:
                    old = peak.get(pid, (role, (0, 0)))[1]
                    peak[pid] = (role, (max(old[0], figures[0]), max(old[1], figures[1])))
            time.sleep(1)
            if time.monotonic() > started + args.duration + COPY_TIMEOUT + 60:
                load.failures.append("clients did not stop")
                break
        result["load_seconds"] = round(time.monotonic() - started, 1)
        result["peak"] = summarize(peak)
        result["operations"] = load.counts
        result["failures"] = load.failures
        result["refused_pushes"] = load.refused
        result["broken_images"] = sorted(f"{repo}@{digest}" for repo, digest in load.broken)
        result["replaced_processes"] = sorted(pid for pid in seen | set(server.processes()) if pid not in before)

        # Idle after: open blob files close when unused for 10-20 s; wait for the descriptor counts to come back.
        idle_fds = {pid: f[1] for pid, (_, f) in before.items() if f}
        deadline = time.monotonic() + args.idle_wait
        while True:
            after = server.figures()
            settled = all(f and f[1] <= idle_fds.get(pid, 0) for pid, (_, f) in after.items())
            if settled or time.monotonic() > deadline:
                break
            time.sleep(1)
        result["idle_after"] = summarize(after)
        result["fds_returned"] = settled

        checked = time.monotonic()
        status, report = server.fsck()
        result["fsck_serving"] = {"status": status, "kinds": kinds(report), "findings": report.get("findings", [])[:50],
                                  "seconds": round(time.monotonic() - checked, 1), "bytes_hashed": report.get("bytesHashed")}
        # Every image a client failed to pull should be among fsck's damage: fsck checked against the clients.
        named = " ".join(f["detail"] for f in report.get("findings", []) if f.get("damage"))
        result["broken_images_fsck_missed"] = [image for image in result["broken_images"] if image not in named]
        server.stop()
        status, report = server.fsck()
        result["fsck_stopped"] = {"status": status, "kinds": kinds(report), "blobs": report.get("blobs"),
                                  "manifests": report.get("manifests")}
        status, _ = server.fsck("--repair")
        status_after, report = server.fsck()
        result["fsck_after_repair"] = {"repair_status": status, "status": status_after, "kinds": kinds(report)}
    finally:
        if server.proc.poll() is None:
            server.stop()
    damage = [f for f in result["fsck_serving"]["findings"] if f.get("damage")]
    result["passed"] = (not result["failures"] and not result["replaced_processes"] and result["fds_returned"] and not damage
                        and result["fsck_serving"]["status"] in (0, 1) and not result["broken_images_fsck_missed"])
    print_summary(result)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(result, f, indent=2)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if result["passed"] else 1


def kinds(report):
    found = {}
    for finding in report.get("findings", []):
        found[finding["kind"]] = found.get(finding["kind"], 0) + 1
    return found


def print_summary(result):
    print(f"load: {result['load_seconds']} s, operations: {json.dumps(result['operations'], sort_keys=True)}")
    print(f"pushes refused because GC took a blob first (correct with a short gc.delay): {len(result['refused_pushes'])}")
    print(f"failed operations: {len(result['failures'])}")
    for failure in result["failures"][:20]:
        print(f"  {failure}")
    print("process        role        RSS KiB (idle before / peak / idle after)   fds (idle before / peak / idle after)")
    for pid in sorted(set(result["idle_before"]) | set(result["peak"]) | set(result["idle_after"]), key=int):
        rows = [result[k].get(pid, {}) for k in ("idle_before", "peak", "idle_after")]
        role = next((row["role"] for row in rows if row), "?")
        rss = " / ".join(str(row.get("rss_kib", "-")) for row in rows)
        fds = " / ".join(str(row.get("fds", "-")) for row in rows)
        print(f"{pid:<14} {role:<11} {rss:<45} {fds}")
    print(f"images a pull failed on: {len(result['broken_images'])}, of which fsck did not name: "
          f"{result['broken_images_fsck_missed']}")
    print(f"replaced processes: {result['replaced_processes']}; descriptors back to idle: {result['fds_returned']}")
    for key in ("fsck_serving", "fsck_stopped", "fsck_after_repair"):
        print(f"{key}: {json.dumps({k: v for k, v in result[key].items() if k != 'findings'}, sort_keys=True)}")
    for finding in [f for f in result["fsck_serving"]["findings"] if f.get("damage")][:20]:
        print(f"  damage: {finding['kind']} {finding['path']}: {finding['detail']}")
    print("PASSED" if result["passed"] else "FAILED")


if __name__ == "__main__":
    sys.exit(main())
