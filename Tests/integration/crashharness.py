"""One Berth on one root, killed at point after point and restarted each time; after every restart the
whole ledger is checked (crashutil.verify), interrupted uploads are resumed, and the disk is scanned."""

import os
import signal
import time

import requests

from crashutil import KillPoint, Ledger, Layout, killed_at, resume_uploads, scan_disk, verify
from regutil import describe, digest_of, location

OCTET = {"Content-Type": "application/octet-stream"}
TIMEOUT = 30


class Harness:
    """The server under test, its root and ledger, and what the kills found (uploads' outcomes, debris)."""

    def __init__(self, registry, root, workdir):
        self.reg, self.root, self.workdir = registry, root, workdir
        self.base = registry.base_url
        self.layout = Layout(root)
        self.ledger = Ledger()
        self.debris = {}  # kind -> set of relative paths seen after some restart
        self.outcomes = {"resumed": 0, "unknown": 0}

    def point(self, name, syscalls, paths=(), when=1, *, action, expect=None, later=False):
        """Arms the point, runs `action`, checks `expect()` on the disk of the dead server, restarts and checks
        everything. Returns what `action` returned (an exception when the kill cut its connection).
        `later`: the point is reached by the server's own work after the action (a GC run), not during it."""
        started = time.monotonic()
        kp = KillPoint(name, self.reg.pid, syscalls, list(paths), when, logdir=self.workdir)
        value = killed_at(kp, self.reg, action, later=later)
        killed = time.monotonic()
        if expect:
            expect(value)
        self.after_kill(name)
        print(f"CRASH-POINT {name}: killed after {killed - started:.2f}s, recovered in {time.monotonic() - killed:.2f}s")
        return value

    def plain_kill(self, name):
        """SIGKILL with no call in flight: a moment between two requests."""
        self.reg.proc.send_signal(signal.SIGKILL)
        self.reg.proc.wait(timeout=TIMEOUT)
        self.after_kill(name)

    def after_kill(self, name):
        self.reg.start()
        verify(self.ledger, self.base)
        for kind, n in resume_uploads(self.ledger, self.base).items():
            self.outcomes[kind] += n
        verify(self.ledger, self.base)
        for kind, paths in scan_disk(self.root).items():
            self.debris.setdefault(kind, set()).update(paths)
        self.ledger.points.append(name)

    def report(self, label):
        print(f"CRASH-POINTS {label}: {len(self.ledger.points)} reached: {', '.join(self.ledger.points)}")
        print(f"CRASH-UPLOADS {label}: {self.outcomes}")
        for kind, paths in sorted(self.debris.items()):
            print(f"CRASH-DEBRIS {label} {kind}: {len(paths)} seen after some restart {sorted(paths)[:4]}")
        for kind, paths in sorted(scan_disk(self.root).items()):
            print(f"CRASH-LEFT {label} {kind}: {len(paths)} still there at the end {sorted(paths)[:4]}")

    # --- client steps -----------------------------------------------------------------------
    def begin(self, repo):
        r = requests.post(f"{self.base}/v2/{repo}/blobs/uploads/", timeout=TIMEOUT)
        assert r.status_code == 202, describe(r)
        return location(r)

    def patch(self, url, chunk, start):
        r = requests.patch(url, data=chunk, timeout=TIMEOUT,
                           headers={**OCTET, "Content-Range": f"{start}-{start + len(chunk) - 1}"})
        assert r.status_code == 202, describe(r)
        return location(r)

    def put(self, url, digest, body=b""):
        sep = "&" if "?" in url else "?"
        return requests.put(f"{url}{sep}digest={digest}", data=body, headers=OCTET, timeout=TIMEOUT)

    def push_blob(self, repo, data):
        r = self.put(self.begin(repo), digest_of(data), data)
        assert r.status_code == 201, describe(r)
        self.ledger.blob(repo, data)
        return digest_of(data)

    def push_manifest(self, repo, ref, body, media_type):
        return requests.put(f"{self.base}/v2/{repo}/manifests/{ref}", data=body, timeout=TIMEOUT,
                            headers={"Content-Type": media_type})

    def upload_id(self, url):
        return url.rstrip("/").rsplit("/", 1)[1].split("?", 1)[0]


def berth_args(tmp_path, name, extra="", workers=1):
    """Arguments for start_berth: a config of the test's (deletes on, `extra` appended) and a root of its own.
    Returns (root, args, config path)."""
    root = os.path.realpath(str(tmp_path / f"{name}-root"))
    config = tmp_path / f"{name}.yml"
    # Debug logging: with several workers the harness waits for each by its Berth-Worker header, sent at debug only.
    level = "debug" if workers > 1 else "info"
    config.write_text(f"log: {{level: {level}}}\nstorage:\n  delete: {{enabled: true}}\n" + extra)
    return root, ["--config", str(config), "--addr", "127.0.0.1:PORT", "--root", root,
                  "--workers", str(workers)], config


def wait_for(condition, what, deadline_seconds=TIMEOUT):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {deadline_seconds}s: {what}")


def exists(path):
    return os.path.exists(path)
