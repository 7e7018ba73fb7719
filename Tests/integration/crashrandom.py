"""SIGKILL at random moments under concurrent pushes (test_crash.py): Berth with two workers, three clients
pushing chunked blobs and tagged manifests (each in its own repository), the supervisor and every worker
killed after a random delay, then a restart and the whole ledger checked. The seed is printed.

Each client writes down what it is about to do before it does it (an upload's possible offsets, a blob or
manifest that may land) and what was acknowledged once it is (a 202's offset, a 201).
"""

import os
import random
import signal
import threading
import time

import requests

from crashutil import Upload, dead
from processes import children
from regutil import OCI_MANIFEST, digest_of, location

OCTET = {"Content-Type": "application/octet-stream"}
TIMEOUT = 30


class Client(threading.Thread):
    def __init__(self, base, repo, ledger, lock, rng, stop):
        super().__init__(daemon=True)
        self.base, self.repo, self.ledger, self.lock, self.rng, self.stop = base, repo, ledger, lock, rng, stop
        self.blobs = [d for (r, d) in ledger.blobs if r == repo]  # what a manifest may reference
        self.acks = 0
        self.error = None  # anything but a connection cut by the kill

    def run(self):
        try:
            while not self.stop.is_set():
                if len(self.blobs) >= 2 and self.rng.random() < 0.4:
                    self.push_manifest()
                else:
                    self.push_blob()
        except requests.RequestException:
            pass  # the server was killed under this client
        except Exception as e:
            self.error = e

    def push_blob(self):
        size = self.rng.randrange(100_000, 2_500_000)
        data = os.urandom(size)
        cuts = sorted(self.rng.sample(range(1, size), 2))
        with self.lock:
            self.ledger.maybe_blob(self.repo, data)
        r = requests.post(f"{self.base}/v2/{self.repo}/blobs/uploads/", timeout=TIMEOUT)
        assert r.status_code == 202, r.text
        url = location(r)
        up = Upload(self.repo, url, data, 0)
        with self.lock:
            self.ledger.uploads.append(up)
        for start, end in ((0, cuts[0]), (cuts[0], cuts[1])):
            with self.lock:
                up.offsets = {start, end}  # the chunk may be written and checkpointed without its 202
            p = requests.patch(url, data=data[start:end], timeout=TIMEOUT,
                               headers={**OCTET, "Content-Range": f"{start}-{end - 1}"})
            assert p.status_code == 202, p.text
            url = location(p)
            with self.lock:
                up.url, up.offsets = url, {end}
        with self.lock:
            up.offsets = {cuts[1], size}
        r = requests.put(f"{url}?digest={digest_of(data)}", data=data[cuts[1]:], timeout=TIMEOUT,
                         headers={**OCTET, "Content-Range": f"{cuts[1]}-{size - 1}"})
        assert r.status_code == 201, r.text
        with self.lock:
            self.ledger.uploads.remove(up)
            self.ledger.blob(self.repo, data)
            self.ledger.maybe_blobs.pop((self.repo, digest_of(data)), None)
        self.blobs.append(digest_of(data))
        self.acks += 1

    def push_manifest(self):
        refs = self.rng.sample(self.blobs, 2)
        with self.lock:
            sizes = {d: len(self.ledger.blobs[(self.repo, d)]) for d in refs}
        body = (b'{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
                b'"digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",'
                b'"digest":"%s","size":%d}],"annotations":{"n":"%s"}}' % (
                    OCI_MANIFEST.encode(), refs[0].encode(), sizes[refs[0]], refs[1].encode(), sizes[refs[1]],
                    os.urandom(6).hex().encode()))
        tag = f"t{self.rng.randrange(3)}"
        with self.lock:
            self.ledger.maybe_manifest(self.repo, body, OCI_MANIFEST, tag=tag)
        r = requests.put(f"{self.base}/v2/{self.repo}/manifests/{tag}", data=body, timeout=TIMEOUT,
                         headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
        with self.lock:
            self.ledger.manifest(self.repo, body, OCI_MANIFEST, tag=tag)
        self.acks += 1


def kill_all(registry):
    """SIGKILL to every worker, then straight away to the supervisor (before it can start new ones), and wait
    until all are gone: no worker is left to finish its requests or to hear of its supervisor's death."""
    workers = children(registry.proc.pid)
    for pid in workers + [registry.proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    registry.proc.wait(timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while not all(dead(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers {workers} outlived SIGKILL"
        time.sleep(0.01)


def random_rounds(h, rounds, seed, wait_for_workers):
    """`rounds` kills of the whole server group at random moments under three pushing clients."""
    rng = random.Random(seed)
    print(f"CRASH-RANDOM seed={seed}")
    acks = 0
    for n in range(rounds):
        stop, lock = threading.Event(), threading.Lock()
        clients = [Client(h.base, f"random/c{i}", h.ledger, lock, random.Random(rng.random()), stop)
                   for i in range(3)]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(0.2, 1.2))
        kill_all(h.reg)
        stop.set()
        for c in clients:
            c.join(TIMEOUT)
            assert not c.is_alive(), "a client hung after the kill"
            assert c.error is None, f"{c.repo}: {c.error!r} before the kill"
        acks += sum(c.acks for c in clients)
        h.after_kill(f"random moment {n + 1}")
        wait_for_workers()
    return acks
