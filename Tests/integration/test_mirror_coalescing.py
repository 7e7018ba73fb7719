"""One upstream fetch per blob and per manifest, however many clients ask at once, across worker processes;
Range requests on a blob that is still downloading.

The cold/warm figures are printed on lines starting with `MIRROR-FIGURES:` (pytest -s shows them); they are
never asserted on. Timeouts only guard against hangs.
"""
import os
import socket
import threading
import time

import pytest
import requests

from mirrorutil import (MiB, TIMEOUT, blob_path, build_image, count_requests, push_to_upstream, settled_count,
                        run_together, sha256_stream, start_mirror, write_mirror_config)
from regutil import OCI_MANIFEST, describe, digest_of, push_blob

pytestmark = pytest.mark.berth_only  # the mirror is Berth's; docker-registry is the upstream here

BIG = 256 * MiB
CLIENTS = 20




def test_twenty_clients_of_a_cold_256mib_blob_share_one_upstream_get_across_two_workers(start_registry, start_berth,
                                                                                       tmp_path):
    upstream = start_registry("reference", label="upstream")
    blob = os.urandom(BIG)
    digest = digest_of(blob)
    started = time.monotonic()
    assert push_blob(upstream.base_url, "bench/blob", blob) == digest
    print(f"seeded the upstream with {BIG >> 20} MiB in {time.monotonic() - started:.2f}s")
    del blob

    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    berth, root = start_mirror(start_berth, tmp_path, config, workers=2)
    url = f"{berth.base_url}/v2/bench/blob/blobs/{digest}"
    assert count_requests(upstream, "GET", f"/v2/bench/blob/blobs/{digest}") == 0

    def client(i):
        t0 = time.monotonic()
        with requests.get(url, stream=True, timeout=TIMEOUT) as r:
            first = time.monotonic() - t0
            if r.status_code != 200:
                return {"status": r.status_code, "body": r.text[:300]}
            hex_, n = sha256_stream(r)
            return {"status": 200, "worker": r.headers.get("Berth-Worker"), "sha256": hex_, "length": n,
                    "first_byte": first, "seconds": time.monotonic() - t0}

    cold_started = time.monotonic()
    results = run_together(CLIENTS, client)
    cold = time.monotonic() - cold_started
    for i, res in enumerate(results):
        print(f"client {i}: {res}")
    bad = [res for res in results if not res or res.get("status") != 200 or res.get("sha256") != digest[7:]
           or res.get("length") != BIG]
    assert not bad, f"{len(bad)} of {CLIENTS} clients did not get the whole blob: {bad}"
    workers = sorted({res["worker"] for res in results})
    assert workers == ["0", "1"], f"the clients were all served by worker(s) {workers}: not across processes"

    gets = settled_count(upstream, "GET", f"/v2/bench/blob/blobs/{digest}")
    assert gets == 1, f"the upstream was asked {gets} times for the blob by {CLIENTS} concurrent clients"

    path = blob_path(root, digest)
    assert os.path.isfile(path) and os.path.getsize(path) == BIG, path

    t0 = time.monotonic()
    with requests.get(url, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, describe(r)
        assert sha256_stream(r) == (digest[7:], BIG)
    warm = time.monotonic() - t0
    t0 = time.monotonic()
    with requests.get(f"{upstream.base_url}/v2/bench/blob/blobs/{digest}", stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200 and sha256_stream(r) == (digest[7:], BIG)
    direct = time.monotonic() - t0
    assert count_requests(upstream, "GET", f"/v2/bench/blob/blobs/{digest}") == 1  # the warm pull asked nothing

    first_bytes = sorted(res["first_byte"] for res in results)
    print(f"MIRROR-FIGURES: cold {BIG >> 20} MiB blob, {CLIENTS} concurrent clients, 2 workers: {cold:.2f}s wall, "
          f"{CLIENTS * BIG / MiB / cold:.0f} MiB/s delivered in all, first byte after "
          f"{first_bytes[0] * 1000:.0f}-{first_bytes[-1] * 1000:.0f} ms, 1 upstream GET")
    print(f"MIRROR-FIGURES: warm {BIG >> 20} MiB blob, one client: {warm:.2f}s ({BIG / MiB / warm:.0f} MiB/s)")
    print(f"MIRROR-FIGURES: same blob straight from docker-registry, one client: {direct:.2f}s "
          f"({BIG / MiB / direct:.0f} MiB/s)")


def test_concurrent_requests_for_an_uncached_manifest_share_one_upstream_get(start_registry, start_berth,
                                                                            tmp_path):
    upstream = start_registry("reference", label="upstream")
    by_tag = build_image(tmp_path / "tag", "v1", nlayers=1)
    by_digest = build_image(tmp_path / "digest", "v2", nlayers=1)
    push_to_upstream(by_tag, upstream, "team/app:v1", tmp_path)
    push_to_upstream(by_digest, upstream, "team/app:v2", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    berth, _ = start_mirror(start_berth, tmp_path, config, workers=2)

    for ref, image in (("v1", by_tag), (by_digest["digest"], by_digest)):
        def client(i):
            r = requests.get(f"{berth.base_url}/v2/team/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST},
                             timeout=TIMEOUT)
            return {"status": r.status_code, "body": r.content, "digest": r.headers.get("Docker-Content-Digest"),
                    "worker": r.headers.get("Berth-Worker")}

        results = run_together(10, client)
        bad = [res for res in results if not res or res.get("status") != 200 or res["body"] != image["manifest"]
               or res["digest"] != image["digest"]]
        assert not bad, bad
        print(f"{ref}: served by workers {sorted(res['worker'] for res in results)}")
        gets = settled_count(upstream, "GET", f"/v2/team/app/manifests/{ref}")
        assert gets == 1, f"the upstream was asked {gets} times for manifest {ref} by 10 concurrent clients"


# --- Range on a blob still downloading -----------------------------------------------------------------------
class HoldingProxy:
    """A TCP relay from 127.0.0.1:<port> to the upstream that, once armed, stops passing the upstream's bytes
    on after `after` of them, until release(): a download through it is stopped half-way for as long as the
    test needs, with no timing involved."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.after = None
        self.relayed = 0
        self.held = threading.Event()
        self.released = threading.Event()
        self.stopping = threading.Event()
        self.sockets = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def arm(self, after):
        with self.lock:
            self.after, self.relayed = after, 0

    def release(self):
        self.released.set()

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src, dst, downstream):
        try:
            while True:
                data = src.recv(256 * 1024)
                if not data:
                    break
                if downstream and not self.released.is_set():
                    with self.lock:
                        room = None if self.after is None else self.after - self.relayed
                        if room is not None:
                            self.relayed += len(data)
                    if room is not None and room < len(data):
                        if room > 0:
                            dst.sendall(data[:room])
                            data = data[room:]
                        self.held.set()
                        self.released.wait(120)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def stop(self):
        self.released.set()
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()
        for s in self.sockets:  # shutdown wakes the relay threads blocked in recv; close alone does not
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_range_requests_on_a_blob_still_downloading_get_206_and_the_right_bytes(request, start_registry,
                                                                               start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    size = 64 * MiB
    blob = os.urandom(size)
    digest = push_blob(upstream.base_url, "bench/range", blob)
    proxy = HoldingProxy(upstream.port)
    request.addfinalizer(proxy.stop)
    config = write_mirror_config(tmp_path, remoteurl=proxy.url, timeout="60s")
    berth, root = start_mirror(start_berth, tmp_path, config)
    url = f"{berth.base_url}/v2/bench/range/blobs/{digest}"

    # The upstream's answer stops after 8 MiB until released: the download is half-way for sure.
    proxy.arm(8 * MiB)
    full = {}

    def full_get():
        try:
            with requests.get(url, stream=True, timeout=3 * TIMEOUT) as r:
                full["status"] = r.status_code
                full["sha256"], full["length"] = sha256_stream(r) if r.status_code == 200 else (None, 0)
        except Exception as e:
            full["error"] = repr(e)

    downloader = threading.Thread(target=full_get, daemon=True)
    downloader.start()
    assert proxy.held.wait(30), f"the upstream's answer never reached 8 MiB through the relay: {full}"
    assert not os.path.exists(blob_path(root, digest)), "the blob is complete although its download is held"

    ranges = {"inside": (1000, 1999), "beyond": (40 * MiB, 40 * MiB + 999)}
    answers = {}

    def range_get(name, first, last):
        try:
            r = requests.get(url, headers={"Range": f"bytes={first}-{last}"}, timeout=3 * TIMEOUT)
            answers[name] = (r, time.monotonic(), proxy.released.is_set())
        except Exception as e:
            answers[name] = (e, time.monotonic(), proxy.released.is_set())

    threads = {name: threading.Thread(target=range_get, args=(name, *span), daemon=True)
               for name, span in ranges.items()}
    for t in threads.values():
        t.start()
    threads["inside"].join(10)  # bytes Berth has already: it may answer while the download is held
    print(f"Range {ranges['inside']} answered while the download was held: {'inside' in answers}")
    released = time.monotonic()
    proxy.release()
    for t in threads.values():
        t.join(3 * TIMEOUT)
    downloader.join(3 * TIMEOUT)

    for name, (first, last) in ranges.items():
        assert name in answers, f"no answer to Range {first}-{last}"
        r, when, after_release = answers[name]
        assert not isinstance(r, Exception), f"Range {first}-{last}: {r!r}"
        print(f"Range {first}-{last}: {r.status_code} "
              f"{'after' if after_release else 'before'} the download went on ({when - released:+.2f}s)")
        assert r.status_code == 206, describe(r)
        assert r.content == blob[first:last + 1], f"Range {first}-{last}: wrong bytes"
        assert r.headers.get("Content-Range") == f"bytes {first}-{last}/{size}", describe(r)
    assert full.get("status") == 200 and full.get("sha256") == digest[7:] and full.get("length") == size, full

    gets = settled_count(upstream, "GET", f"/v2/bench/range/blobs/{digest}")
    assert gets == 1, f"the upstream was asked {gets} times for the blob"
    r = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=TIMEOUT)
    assert r.status_code == 206 and r.content == blob[1000:2000], describe(r)
