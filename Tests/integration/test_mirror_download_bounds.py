"""What bounds a worker's cold downloads: at most `proxy.maxdownloads` are led at once (each holds two threads and an
8 MiB ring), the next ones wait their turn in order and all complete; and a download the system will not give its
threads or its wake-up descriptor (a pids cgroup at its limit, RLIMIT_NOFILE at the descriptors open) fails alone
with 503 UNAVAILABLE while the worker goes on serving, and the blob downloads once the limit is lifted.

The upstream is a small HTTP server in a thread of the test (blobupstream.BlobUpstream) that holds each blob GET
until the test lets it go, and counts how many it holds at once: the bound is seen from the upstream's side. Timeouts only guard against hangs; the
one wait that is not (SETTLE: "no second GET came meanwhile") can only make a broken bound pass, never a right one
fail.
"""
import hashlib
import os
import resource
import socket
import threading
import time
import uuid

import pytest
import requests

from blobupstream import BlobUpstream, digest_of
from mirrorutil import MiB, TIMEOUT, metric, metric_samples, start_mirror, write_mirror_config
from regutil import free_port

pytestmark = pytest.mark.berth_only  # the mirror is Berth's
SETTLE = 1.5  # seconds a second upstream GET is given to show up while the first is held


@pytest.fixture
def gated(request):
    made = []

    def make(blobs):
        made.append(BlobUpstream())
        for blob in blobs:
            made[-1].add(blob, gated=True)
        return made[-1]
    yield make
    for upstream in made:
        upstream.stop()


def _blob(i, size=3 * MiB):
    return hashlib.sha256(b"blob %d" % i).digest() * (size // 32)


def _get(berth, blob):
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with requests.get(berth.url(f"/v2/test/blob/blobs/{digest}"), stream=True, timeout=TIMEOUT) as r:
        h = hashlib.sha256()
        for part in r.iter_content(1 << 20):
            h.update(part)
        return r.status_code, h.hexdigest(), r.headers.get("Content-Type")


def test_at_most_maxdownloads_cold_blobs_are_led_at_once_and_the_rest_wait_their_turn(gated, start_berth, tmp_path):
    blobs = [_blob(i) for i in range(4)]
    upstream = gated(blobs)
    berth, _ = start_mirror(start_berth, tmp_path, write_mirror_config(
        tmp_path, remoteurl=upstream.base_url, extra="  maxdownloads: 2\n"), workers=1)
    results = {}
    clients = [threading.Thread(target=lambda i=i: results.__setitem__(i, _get(berth, blobs[i]))) for i in range(4)]
    for client in clients:
        client.start()
    upstream.wait_for_gets(2)
    time.sleep(SETTLE)
    held = upstream.asked()
    assert len(held) == 2, f"with proxy.maxdownloads 2 the upstream was asked {len(held)} blobs at once"
    samples = metric_samples(berth)
    assert (metric(samples, "berth_mirror_downloads_led"), metric(samples, "berth_mirror_downloads_waiting")) == (2, 2)
    # Each one let go gives the next its turn.
    upstream.release(held[0])
    upstream.wait_for_gets(3)
    time.sleep(SETTLE)
    assert len(upstream.asked()) == 3
    upstream.open_all()
    for client in clients:
        client.join(TIMEOUT)
    for i, blob in enumerate(blobs):
        assert results.get(i, (None,))[:2] == (200, hashlib.sha256(blob).hexdigest()), f"client {i}: {results.get(i)}"
    assert sorted(upstream.asked()) == sorted(upstream.blobs), "each blob once"
    assert upstream.most_active == 2
    samples = metric_samples(berth)
    assert (metric(samples, "berth_mirror_downloads_led"), metric(samples, "berth_mirror_downloads_waiting")) == (0, 0)


def test_a_waiting_download_every_client_of_which_left_is_never_asked_of_the_upstream(gated, start_berth, tmp_path):
    blobs = [_blob(30 + i) for i in range(2)]
    upstream = gated(blobs)
    berth, _ = start_mirror(start_berth, tmp_path, write_mirror_config(
        tmp_path, remoteurl=upstream.base_url, extra="  maxdownloads: 1\n"), workers=1)
    first = {}
    holder = threading.Thread(target=lambda: first.setdefault("answer", _get(berth, blobs[0])))
    holder.start()
    upstream.wait_for_gets(1)
    # A client asks for the second blob, which waits its turn, and goes away before it comes.
    digest = hashlib.sha256(blobs[1]).hexdigest()
    with socket.create_connection(("127.0.0.1", berth.port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET /v2/test/blob/blobs/sha256:{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(SETTLE)  # its request is read and waiting (only makes a broken drop look right, never the reverse)
    time.sleep(SETTLE)  # Berth has seen the close
    upstream.open_all()
    holder.join(TIMEOUT)
    assert first.get("answer", (None,))[:2] == (200, hashlib.sha256(blobs[0]).hexdigest()), first
    time.sleep(SETTLE)
    assert upstream.asked() == [digest_of(blobs[0])], "the blob nobody waited for was downloaded"
    # Asked again, it downloads.
    assert _get(berth, blobs[1])[:2] == (200, digest)
    assert upstream.count(digest_of(blobs[1])) == 1


def test_past_64_waiting_downloads_per_led_slot_a_client_hears_429_with_retry_after(gated, start_berth, tmp_path):
    blobs = [_blob(100 + i, size=MiB + 4096) for i in range(66)]
    upstream = gated(blobs)
    berth, _ = start_mirror(start_berth, tmp_path, write_mirror_config(
        tmp_path, remoteurl=upstream.base_url, extra="  maxdownloads: 1\n"), workers=1)
    results = {}

    def fetch(i):
        digest = hashlib.sha256(blobs[i]).hexdigest()
        with requests.get(berth.url(f"/v2/test/blob/blobs/sha256:{digest}"), stream=True, timeout=TIMEOUT) as r:
            body = r.content
            results[i] = (r.status_code, hashlib.sha256(body).hexdigest() == digest, r.headers.get("Retry-After"),
                          body[:200])
    clients = [threading.Thread(target=fetch, args=(i,)) for i in range(66)]
    clients[0].start()
    upstream.wait_for_gets(1)
    # 65 more while the first is held: 64 wait their turn, whichever comes last is refused at once.
    for client in clients[1:]:
        client.start()
    deadline = time.monotonic() + TIMEOUT
    while not any(answer[0] == 429 for answer in list(results.values())):
        assert time.monotonic() < deadline, f"no 429 with 65 cold blobs behind a held one: {results}"
        time.sleep(0.05)
    upstream.open_all()
    for client in clients:
        client.join(TIMEOUT)
    refused = [i for i, answer in results.items() if answer[0] == 429]
    assert len(refused) == 1, refused
    status, _, retry_after, body = results[refused[0]]
    assert retry_after == "5" and b'"TOOMANYREQUESTS"' in body, (retry_after, body)
    served = [i for i, answer in results.items() if answer[:2] == (200, True)]
    assert len(served) == 65, {i: a for i, a in results.items() if i not in served}
    assert len(upstream.asked()) == 65


def test_the_bound_is_a_config_key_from_1_to_256(start_berth, tmp_path):
    import subprocess
    from conftest import berth_binary
    for value in ("0", "257", "-1", "many"):
        config = tmp_path / f"bad-{value}.yml"
        config.write_text(f"version: 0.1\nproxy:\n  remoteurl: http://127.0.0.1:9\n  maxdownloads: {value}\n")
        run = subprocess.run([berth_binary(), "serve", "--config", str(config), "--addr", f"127.0.0.1:{free_port()}",
                              "--root", str(tmp_path / "root")], capture_output=True, text=True, timeout=TIMEOUT)
        assert run.returncode != 0 and "proxy.maxdownloads" in run.stderr, (value, run.returncode, run.stderr)


# --- a download the system will not give its threads or its descriptor ------------------------------------------
def _tasks(pids):
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)


def _processes(berth):
    import subprocess
    children = subprocess.run(["pgrep", "-P", str(berth.pid)], capture_output=True, text=True).stdout.split()
    return [berth.pid] + [int(p) for p in children]


def _settled(measure):
    """`measure()` once it gave the same answer twice, half a second apart (threads of an earlier download end)."""
    last = measure()
    deadline = time.monotonic() + TIMEOUT
    while True:
        time.sleep(0.5)
        now = measure()
        if now == last:
            return now
        assert time.monotonic() < deadline, "the worker's thread count did not settle"
        last = now


class PidsCgroup:
    """A pids cgroup (v1 `pids` hierarchy, else v2's unified one with the pids controller) the test moves
    processes into and limits."""

    def __init__(self):
        for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            if os.path.exists(os.path.join(root, "cgroup.procs")) and self._has_pids(root):
                self.root = root
                break
        else:
            pytest.fail("no pids cgroup hierarchy on this machine (/sys/fs/cgroup/pids or cgroup2 with pids)")
        self.path = os.path.join(self.root, f"berth-test-{uuid.uuid4().hex[:12]}")
        os.mkdir(self.path)
        self.members = []

    @staticmethod
    def _has_pids(root):
        if root.endswith("/pids"):
            return True
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                if "pids" not in f.read().split():
                    return False
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as f:
                f.write("+pids")
            return True
        except OSError:
            return False

    def add(self, pid):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        self.members.append(pid)

    def limit(self, value):
        with open(os.path.join(self.path, "pids.max"), "w") as f:
            f.write(str(value))

    def current(self):
        with open(os.path.join(self.path, "pids.current")) as f:
            return int(f.read())

    def remove(self):
        for pid in self.members:
            try:
                with open(os.path.join(self.root, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError:
                pass  # the process has ended
        os.rmdir(self.path)


def _assert_unavailable_alone(berth, blob, workers_before, served_blob):
    r = requests.get(berth.url(f"/v2/test/blob/blobs/sha256:{hashlib.sha256(blob).hexdigest()}"), timeout=TIMEOUT)
    assert r.status_code == 503 and r.headers.get("Content-Type", "").startswith("application/json"), r.text
    assert r.json()["errors"][0]["code"] == "UNAVAILABLE", r.text
    assert "/tmp" not in r.text and "Resource temporarily" not in r.text, r.text  # no path, no system detail
    # The same worker goes on: it serves what it has, and it did not restart.
    assert _processes(berth) == workers_before
    assert _get(berth, served_blob)[:2] == (200, hashlib.sha256(served_blob).hexdigest())


def _mirror_after_one_pull(gated, start_berth, tmp_path, seed):
    """A one-process mirror of an open upstream with two blobs, the first pulled through it: that download
    started the worker's pool and upstream connection, which a limit set next must not be what stops.
    (mirror, blobs, its processes)."""
    blobs = [_blob(seed + i) for i in range(2)]
    upstream = gated(blobs)
    upstream.open_all()
    berth, _ = start_mirror(start_berth, tmp_path, write_mirror_config(tmp_path, remoteurl=upstream.base_url),
                            workers=1)
    assert _get(berth, blobs[0])[:2] == (200, hashlib.sha256(blobs[0]).hexdigest())
    return berth, blobs, _processes(berth)


@pytest.mark.parametrize("threads_allowed", [0, 1], ids=["no-thread", "one-of-two-threads"])
def test_a_download_whose_threads_cannot_start_fails_alone_with_503_and_the_worker_goes_on(gated, start_berth, tmp_path,
                                                                                           threads_allowed):
    berth, blobs, processes = _mirror_after_one_pull(gated, start_berth, tmp_path, 10)
    cgroup = PidsCgroup()
    try:
        for pid in processes:
            cgroup.add(pid)
        tasks = _settled(lambda: _tasks(processes))
        cgroup.limit(tasks + threads_allowed)
        _assert_unavailable_alone(berth, blobs[1], processes, blobs[0])
        cgroup.limit("max")
        assert _get(berth, blobs[1])[:2] == (200, hashlib.sha256(blobs[1]).hexdigest())
    finally:
        cgroup.remove()


# Spare descriptors under the limit: none (the claim's lock file cannot be opened), one (its data file cannot), two
# (the download's wake-up eventfd cannot be made).
@pytest.mark.parametrize("spare", [0, 1, 2], ids=["no-lock-file", "no-data-file", "no-eventfd"])
def test_a_download_without_descriptors_fails_alone_with_503_and_the_worker_goes_on(gated, start_berth, tmp_path, spare):
    berth, blobs, processes = _mirror_after_one_pull(gated, start_berth, tmp_path, 20)
    worker = processes[-1]
    session = requests.Session()  # a connection opened before the limit, kept alive for the requests under it
    digest = hashlib.sha256(blobs[1]).hexdigest()
    assert session.get(berth.url("/v2/"), timeout=TIMEOUT).status_code == 200
    limits = resource.prlimit(worker, resource.RLIMIT_NOFILE)
    try:
        opened = _settled(lambda: len(os.listdir(f"/proc/{worker}/fd")))
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (opened + spare, limits[1]))
        r = session.get(berth.url(f"/v2/test/blob/blobs/sha256:{digest}"), timeout=TIMEOUT)
        assert r.status_code == 503 and r.json()["errors"][0]["code"] == "UNAVAILABLE", (r.status_code, r.text)
        assert "/tmp" not in r.text and "Too many" not in r.text, r.text
        assert session.get(berth.url("/v2/"), timeout=TIMEOUT).status_code == 200
        assert _processes(berth) == processes
    finally:
        resource.prlimit(worker, resource.RLIMIT_NOFILE, limits)
    if spare == 2:
        assert "cannot make an eventfd" in berth.logs()
    assert _get(berth, blobs[1])[:2] == (200, digest)
