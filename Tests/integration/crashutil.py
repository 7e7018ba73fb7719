"""The crash harness's tools (test_crash.py): SIGKILL at a chosen system call, a ledger of what the registry
acknowledged, and the checks run after every restart.

A kill point is armed by attaching strace to the running server (`strace -f -p PID`) with
`-e inject=SYSCALLS:signal=KILL:when=N` and one or more `-P PATH`: the server dies on entering the Nth call
(counted per thread, as strace does) of those system calls that names that path, or a descriptor open on it,
before the call runs. The paths come from registry:2's layout (a blob's `data`, a tag's `current/link`, an
upload's `hashstates/sha256/<offset>`), so the point is exact whichever thread makes the call, and the binary
has no hook. strace 6.1 matches a rename by its first path only, so a rename from a temporary name is aimed
at by its ordinal in the thread that makes it instead. Nothing here asserts on time: deadlines only guard
against hangs.
"""

import os
import re
import signal
import subprocess
import threading
import time

import requests

from regutil import describe, digest_of

TIMEOUT = 30
V2 = ("docker", "registry", "v2")


# --- registry:2 layout ----------------------------------------------------------------------------
class Layout:
    """Paths of registry:2's layout under a root (as the server names them: `-P` matches strings)."""

    def __init__(self, root):
        self.base = os.path.join(os.path.realpath(str(root)), *V2)

    def blob_dir(self, digest):
        hex_ = digest.split(":", 1)[1]
        return f"{self.base}/blobs/sha256/{hex_[:2]}/{hex_}"

    def blob_data(self, digest):
        return self.blob_dir(digest) + "/data"

    def repo(self, repo):
        return f"{self.base}/repositories/{repo}"

    def layer_link(self, repo, digest):
        return f"{self.repo(repo)}/_layers/sha256/{digest.split(':', 1)[1]}/link"

    def revision_link(self, repo, digest):
        return f"{self.repo(repo)}/_manifests/revisions/sha256/{digest.split(':', 1)[1]}/link"

    def tag_current(self, repo, tag):
        return f"{self.repo(repo)}/_manifests/tags/{tag}/current/link"

    def tag_index(self, repo, tag, digest):
        return f"{self.repo(repo)}/_manifests/tags/{tag}/index/sha256/{digest.split(':', 1)[1]}/link"

    def upload(self, repo, uid):
        return f"{self.repo(repo)}/_uploads/{uid}"

    def hash_state(self, repo, uid, offset):
        return f"{self.upload(repo, uid)}/hashstates/sha256/{offset}"

    def download_partial(self, digest):
        return f"{self.base}/berth-mirror/downloads/blob-{digest.split(':', 1)[1]}.partial"

    def download_lock(self, digest):
        return f"{self.base}/berth-mirror/downloads/blob-{digest.split(':', 1)[1]}.lock"


# --- kill points ----------------------------------------------------------------------------------
class KillPoint:
    """strace attached to `pid`, armed to SIGKILL it at the `when`th call of `syscalls` on `paths`."""

    def __init__(self, name, pid, syscalls, paths, when=1, logdir="/tmp"):
        self.name, self.pid = name, pid
        self.log = os.path.join(str(logdir), f"strace-{pid}-{os.getpid()}-{time.monotonic_ns()}.log")
        argv = ["strace", "-f", "-p", str(pid), "-o", "/dev/null", "-e", f"trace={syscalls}",
                "-e", f"inject={syscalls}:signal=KILL:when={when}"]
        for path in paths:
            argv += ["-P", path]
        self.argv = argv
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._wait_attached()

    def _wait_attached(self):
        """Until strace says it holds the server ("Process N attached with K threads" comes once all are;
        it follows threads started later itself)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"strace exited at once: {self.argv}\n{self._text()}"
            if f"Process {self.pid} attached" in self._text():
                return
            time.sleep(0.01)
        raise AssertionError(f"strace did not attach to all threads of {self.pid}\n{self._text()}")

    def _text(self):
        with open(self.log, "r", errors="replace") as f:
            return f.read()

    def disarm(self):
        """The point was not reached: detach, leaving the server running."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=TIMEOUT)


def killed_at(point, registry, action, later=False):
    """Runs `action()` (client requests that should reach the point) and waits for the server to die there
    (with `later`, also after the action is done, until the deadline). Returns what the action returned, or
    the exception it raised (a connection cut by the kill)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = action()
        except Exception as e:  # the connection dies with the server: expected
            outcome["value"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + TIMEOUT
    while not dead(registry.proc.pid) and time.monotonic() < deadline and (later or worker.is_alive()):
        time.sleep(0.005)
    # A killed process closes its sockets before it turns zombie: on a loaded machine the client sees the
    # connection cut a moment before /proc says the process is dead. A cut connection waits for that moment.
    if isinstance(outcome.get("value"), (requests.ConnectionError, OSError)):
        grace = time.monotonic() + 5
        while not dead(registry.proc.pid) and time.monotonic() < grace:
            time.sleep(0.005)
    if not dead(registry.proc.pid):
        # The action finished and the server lives: the point was never reached. That is a harness failure.
        point.disarm()
        raise AssertionError(f"kill point {point.name!r} was not reached ({point.argv}); "
                             f"the action returned {outcome.get('value')!r}")
    try:
        point.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        # Seen here now and then: strace waits on for a thread of the killed process that is already a
        # zombie, and so the parent cannot reap it. Ending strace releases it (the kill has happened).
        print(f"CRASH-STRACE {point.name}: strace still waiting on the dead server, ended")
        point.proc.kill()
        point.proc.wait(timeout=TIMEOUT)
    registry.proc.wait(timeout=TIMEOUT)
    assert registry.proc.returncode == -signal.SIGKILL, \
        f"{point.name}: server ended with {registry.proc.returncode}, not SIGKILL\n{registry.logs()[-3000:]}"
    worker.join(TIMEOUT)
    return outcome.get("value")


def dead(pid):
    """Gone, or a zombie: a killed process that its tracer or parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


# --- what the registry acknowledged ---------------------------------------------------------------
class Upload:
    """A chunked upload that the harness goes on with after a restart."""

    def __init__(self, repo, url, data, acked):
        self.repo, self.url, self.data = repo, url, data
        # Where it may stand after a crash: the last 202's offset (`acked`), and the end of a chunk in flight
        # when the server may have saved it without answering.
        self.offsets = {acked}


class Ledger:
    """Everything the registry said yes to, and what was in flight when it died."""

    def __init__(self):
        self.blobs = {}  # (repo, digest) -> bytes: acknowledged with 201
        self.maybe_blobs = {}  # (repo, digest) -> bytes: pushed, no 201: 404 or whole
        self.manifests = {}  # (repo, digest) -> (bytes, media type): 201
        self.maybe_manifests = {}
        self.tags = {}  # (repo, tag) -> set of digests it may resolve to (None: no such tag)
        self.uploads = []  # Upload: in flight at a kill
        self.points = []  # names of the kill points reached
        # A blob found whole is held to that from then on; not where GC may remove what nothing references.
        self.promote = True

    def blob(self, repo, data):
        self.blobs[(repo, digest_of(data))] = data

    def maybe_blob(self, repo, data):
        if (repo, digest_of(data)) not in self.blobs:
            self.maybe_blobs[(repo, digest_of(data))] = data

    def manifest(self, repo, body, media_type, tag=None):
        self.manifests[(repo, digest_of(body))] = (body, media_type)
        self.maybe_manifests.pop((repo, digest_of(body)), None)
        if tag:
            self.tags[(repo, tag)] = {digest_of(body)}

    def maybe_manifest(self, repo, body, media_type, tag=None):
        if (repo, digest_of(body)) not in self.manifests:
            self.maybe_manifests[(repo, digest_of(body))] = (body, media_type)
        if tag:
            self.tags.setdefault((repo, tag), {None}).add(digest_of(body))


def _assert_blob_served(base, repo, digest, data, session):
    url = f"{base}/v2/{repo}/blobs/{digest}"
    h = session.head(url, timeout=TIMEOUT)
    assert h.status_code == 200, describe(h)
    assert h.headers.get("Content-Length") == str(len(data)), describe(h)
    assert h.headers.get("Docker-Content-Digest") == digest, describe(h)
    g = session.get(url, timeout=TIMEOUT)
    assert g.status_code == 200, describe(g)
    assert g.content == data, f"{repo}@{digest}: {len(g.content)} bytes served, not the {len(data)} pushed"
    assert g.headers.get("Docker-Content-Digest") == digest, describe(g)


def _served_or_absent(base, repo, digest, data, session):
    """True when served whole and exact, False when 404 on both HEAD and GET; anything else fails."""
    url = f"{base}/v2/{repo}/blobs/{digest}"
    h = session.head(url, timeout=TIMEOUT)
    g = session.get(url, timeout=TIMEOUT)
    if h.status_code == 404 and g.status_code == 404:
        return False
    assert h.status_code == 200 and g.status_code == 200, \
        f"{repo}@{digest} never acknowledged is half-visible\n{describe(h)}\n{describe(g)}"
    assert g.content == data and h.headers.get("Content-Length") == str(len(data)), \
        f"{repo}@{digest} never acknowledged is served with {len(g.content)} wrong bytes"
    return True


def _get_manifest(base, repo, ref, media_type, session, method="GET"):
    return session.request(method, f"{base}/v2/{repo}/manifests/{ref}", headers={"Accept": media_type},
                           timeout=TIMEOUT)


def verify(ledger, base):
    """Every acknowledged object served byte-exact; every unacknowledged one absent or whole; tags resolve.
    What is found whole is then held to that (the next checks expect it to stay)."""
    with requests.Session() as s:
        for (repo, digest), data in ledger.blobs.items():
            _assert_blob_served(base, repo, digest, data, s)
        for key, data in list(ledger.maybe_blobs.items()):
            if _served_or_absent(base, *key, data, s) and ledger.promote:
                ledger.blobs[key] = ledger.maybe_blobs.pop(key)
        for (repo, digest), (body, mt) in ledger.manifests.items():
            for method in ("HEAD", "GET"):
                r = _get_manifest(base, repo, digest, mt, s, method)
                assert r.status_code == 200 and r.headers.get("Docker-Content-Digest") == digest, describe(r)
            assert r.content == body, f"{repo}@{digest}: manifest served with other bytes"
        for key, (body, mt) in list(ledger.maybe_manifests.items()):
            r = _get_manifest(base, key[0], key[1], mt, s)
            if r.status_code == 404:
                continue
            assert r.status_code == 200 and r.content == body, f"unacknowledged manifest half-visible\n{describe(r)}"
            ledger.manifests[key] = ledger.maybe_manifests.pop(key)
        for (repo, tag), allowed in ledger.tags.items():
            r = _get_manifest(base, repo, tag, "*/*", s)
            got = None if r.status_code == 404 else r.headers.get("Docker-Content-Digest")
            assert r.status_code in (200, 404) and got in allowed, \
                f"{repo}:{tag} resolves to {got}, not one of {allowed}\n{describe(r)}"
            if got is not None:
                assert r.content == (ledger.manifests.get((repo, got)) or ledger.maybe_manifests[(repo, got)])[0]
                ledger.manifests.setdefault((repo, got), ledger.maybe_manifests.pop((repo, got), None))
            ledger.tags[(repo, tag)] = {got}


def resume_uploads(ledger, base):
    """Each interrupted upload answers 404 BLOB_UPLOAD_UNKNOWN, or stands at an offset it may stand at and
    completes from there. Returns {'resumed': n, 'unknown': n}."""
    counts = {"resumed": 0, "unknown": 0}
    for up in ledger.uploads:
        g = requests.get(up.url, timeout=TIMEOUT)
        if g.status_code == 404:
            assert "BLOB_UPLOAD_UNKNOWN" in g.text, describe(g)
            counts["unknown"] += 1
            continue
        assert g.status_code == 204, describe(g)
        m = re.fullmatch(r"0-(\d+)", g.headers.get("Range", ""))
        assert m, describe(g)
        offset = int(m.group(1)) + 1 if int(m.group(1)) > 0 else 0
        assert offset in up.offsets, f"upload stands at {offset}, not one of {sorted(up.offsets)}\n{describe(g)}"
        url = requests.compat.urljoin(up.url, g.headers["Location"])
        d = digest_of(up.data)
        sep = "&" if "?" in url else "?"
        r = requests.put(f"{url}{sep}digest={d}", data=up.data[offset:], timeout=TIMEOUT,
                         headers={"Content-Type": "application/octet-stream",
                                  **({"Content-Range": f"{offset}-{len(up.data) - 1}"} if offset < len(up.data) else {})})
        assert r.status_code == 201, f"resuming at {offset} of {len(up.data)}\n{describe(r)}"
        ledger.blob(up.repo, up.data)
        ledger.maybe_blobs.pop((up.repo, d), None)
        counts["resumed"] += 1
    ledger.uploads = []
    return counts


# --- what a crash leaves on disk ------------------------------------------------------------------
HEX64 = re.compile(r"sha256:[0-9a-f]{64}")


def scan_disk(root):
    """Debris after a restart: {'tmp': [...], 'empty_blob_dirs': [...], 'uploads_without_data': [...],
    'retired': [...], 'downloads': [...]}. Fails on a link that does not hold a digest or a blob whose
    bytes do not hash to its name: those would be served."""
    base = os.path.join(os.path.realpath(str(root)), *V2)
    found = {"tmp": [], "empty_blob_dirs": [], "uploads_without_data": [], "retired": [], "downloads": []}
    for directory, subdirs, files in os.walk(base):
        rel = os.path.relpath(directory, base)
        for name in files:
            path = os.path.join(directory, name)
            if name.startswith(".tmp-"):
                found["tmp"].append(os.path.relpath(path, base))
            elif name == "link":
                with open(path) as f:
                    text = f.read()
                assert HEX64.fullmatch(text.strip()), f"half-written link {os.path.relpath(path, base)}: {text!r}"
            elif name == "data" and rel.startswith("blobs/"):
                with open(path, "rb") as f:
                    got = digest_of(f.read())
                assert got == "sha256:" + os.path.basename(directory), f"blob {rel} holds bytes hashing to {got}"
        if rel.startswith("blobs/sha256/") and rel.count("/") == 3 and "data" not in files:
            found["empty_blob_dirs"].append(rel)
        if os.path.basename(os.path.dirname(directory)) == "_uploads" and "data" not in files:
            found["uploads_without_data"].append(rel)
        if rel.startswith("berth-retired/") and rel.count("/") == 1:
            found["retired"].append(rel)
        if rel == "berth-mirror/downloads":
            found["downloads"] += files
    return found
