"""Worker processes share one port and one storage root: any request may land on any worker."""
import json
import os
import signal
import select
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import requests

from regutil import assert_error, digest_of, free_port

pytestmark = pytest.mark.berth_only  # worker processes are Berth's own

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def two_workers(tmp_path):
    binary = os.environ.get("BERTH_BIN")
    assert binary, "BERTH_BIN must name the berth binary (make test sets it)"
    port = free_port()
    log = open(tmp_path / "berth.log", "wb")
    proc = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--root", str(tmp_path / "data"),
                             "--workers", "2", "--log-level", "debug"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "BERTH_STORAGE_DELETE_ENABLED": "true"})
    base = f"http://127.0.0.1:{port}"
    sessions = {}
    deadline = time.monotonic() + 30
    # Each keep-alive session stays on the worker that accepted its connection (Berth-Worker, sent at debug).
    while len(sessions) < 2 and time.monotonic() < deadline:
        session = requests.Session()
        try:
            worker = session.get(base + "/v2/", timeout=2).headers["Berth-Worker"]
        except requests.ConnectionError:
            time.sleep(0.05)
            continue
        sessions.setdefault(worker, session)
    assert set(sessions) == {"0", "1"}, "never reached both workers: " + (tmp_path / "berth.log").read_text()
    yield base, sessions["0"], sessions["1"], proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def _on(session, worker, response):
    assert response.headers["Berth-Worker"] == worker, "the session changed worker"
    return response


def _push_image(session, base, name, tag, seed):
    config = json.dumps({"seed": seed}).encode()
    layer = os.urandom(4096)
    for blob in (config, layer):
        r = session.post(f"{base}/v2/{name}/blobs/uploads/?digest={digest_of(blob)}", data=blob,
                         headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest_of(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": digest_of(layer), "size": len(layer)}]}).encode()
    r = session.put(f"{base}/v2/{name}/manifests/{tag}", data=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return manifest


def test_a_tag_pushed_on_one_worker_and_moved_on_the_other_reads_the_same_on_both(two_workers):
    base, w0, w1, _ = two_workers
    first = _push_image(w0, base, "shared/app", "latest", 1)
    for session, worker in ((w0, "0"), (w1, "1")):
        r = _on(session, worker, session.get(f"{base}/v2/shared/app/manifests/latest", headers={"Accept": OCI_MANIFEST}))
        assert r.content == first
    second = _push_image(w1, base, "shared/app", "latest", 2)
    for session, worker in ((w0, "0"), (w1, "1")):
        r = _on(session, worker, session.get(f"{base}/v2/shared/app/manifests/latest", headers={"Accept": OCI_MANIFEST}))
        assert r.content == second
        assert r.headers["Docker-Content-Digest"] == digest_of(second)


def test_what_one_worker_deletes_is_gone_on_the_other_at_once_though_it_had_it_cached(two_workers):
    """Each worker serves manifests and blob links from memory while the storage's change counter stands
    still; a delete on the other worker must move it."""
    base, w0, w1, _ = two_workers
    manifest = _push_image(w0, base, "shared/gone", "v1", 3)
    layer = json.loads(manifest)["layers"][0]["digest"]
    by_digest = f"{base}/v2/shared/gone/manifests/{digest_of(manifest)}"
    for _ in range(3):  # cached on worker 1, by tag, by digest, and the layer's link
        assert _on(w1, "1", w1.get(f"{base}/v2/shared/gone/manifests/v1", headers={"Accept": OCI_MANIFEST})).status_code == 200
        assert _on(w1, "1", w1.get(by_digest, headers={"Accept": OCI_MANIFEST})).status_code == 200
        assert _on(w1, "1", w1.head(f"{base}/v2/shared/gone/blobs/{layer}")).status_code == 200
    assert _on(w0, "0", w0.delete(f"{base}/v2/shared/gone/blobs/{layer}")).status_code == 202
    assert _on(w1, "1", w1.head(f"{base}/v2/shared/gone/blobs/{layer}")).status_code == 404
    assert _on(w0, "0", w0.delete(f"{base}/v2/shared/gone/manifests/v1")).status_code == 202
    assert _on(w1, "1", w1.get(f"{base}/v2/shared/gone/manifests/v1", headers={"Accept": OCI_MANIFEST})).status_code == 404
    assert _on(w1, "1", w1.get(by_digest, headers={"Accept": OCI_MANIFEST})).status_code == 200
    assert _on(w0, "0", w0.delete(by_digest)).status_code == 202
    assert _on(w1, "1", w1.get(by_digest, headers={"Accept": OCI_MANIFEST})).status_code == 404


def test_a_chunked_upload_whose_patches_alternate_between_workers_completes(two_workers):
    base, w0, w1, _ = two_workers
    r = _on(w0, "0", w0.post(f"{base}/v2/shared/blob/blobs/uploads/"))
    assert r.status_code == 202
    location = requests.compat.urljoin(base + "/", r.headers["Location"])
    chunks = [os.urandom(300_000 + i) for i in range(6)]
    offset = 0
    for i, chunk in enumerate(chunks):
        session, worker = (w0, "0") if i % 2 == 0 else (w1, "1")
        r = _on(session, worker, session.patch(location, data=chunk, headers={
            "Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}))
        assert r.status_code == 202, r.text
        offset += len(chunk)
        assert r.headers["Range"] == f"0-{offset - 1}"
        location = requests.compat.urljoin(base + "/", r.headers["Location"])
    whole = b"".join(chunks)
    r = _on(w1, "1", w1.put(f"{location}{'&' if '?' in location else '?'}digest={digest_of(whole)}"))
    assert r.status_code == 201, r.text
    assert _on(w0, "0", w0.get(f"{base}/v2/shared/blob/blobs/{digest_of(whole)}")).content == whole


def test_a_worker_that_dies_is_replaced_and_the_supervisor_dying_takes_the_workers_along(two_workers, tmp_path):
    base, w0, _, proc = two_workers
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2
    os.kill(int(children[0]), signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        if len(now) == 2 and children[0] not in now:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the dead worker was not replaced")
    assert requests.get(base + "/v2/").status_code == 200
    workers = [int(pid) for pid in now]
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 20
    while any(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z" for pid in workers):
        assert time.monotonic() < deadline, "workers outlived their supervisor"
        time.sleep(0.1)
    # The port is free again for a new Berth.
    port = int(base.rsplit(":", 1)[1])
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_the_catalog_of_each_worker_sees_a_repository_created_on_the_other(two_workers):
    base, w0, w1, _ = two_workers
    _push_image(w0, base, "cat/first", "v1", 1)
    assert _on(w0, "0", w0.get(f"{base}/v2/_catalog")).json()["repositories"] == ["cat/first"]
    assert _on(w1, "1", w1.get(f"{base}/v2/_catalog")).json()["repositories"] == ["cat/first"]
    _push_image(w1, base, "cat/second", "v1", 2)
    for session, worker in ((w0, "0"), (w1, "1")):
        assert _on(session, worker, session.get(f"{base}/v2/_catalog")).json()["repositories"] == ["cat/first", "cat/second"]


def test_a_second_writer_on_an_upload_in_use_gets_409_and_a_status_read_does_not_disturb_it(two_workers):
    base, w0, w1, _ = two_workers
    r = _on(w0, "0", w0.post(f"{base}/v2/shared/busy/blobs/uploads/"))
    path = urlsplit(requests.compat.urljoin(base + "/", r.headers["Location"]))
    target = path.path + (f"?{path.query}" if path.query else "")
    body = os.urandom(2_000_000)
    port = int(base.rsplit(":", 1)[1])

    def start_slow_patch():
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(f"PATCH {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:1_000_000])
        return connection

    slow = start_slow_patch()
    deadline = time.monotonic() + 10
    while True:  # the slow PATCH takes the upload as soon as its head is read
        if select.select([slow], [], [], 0)[0]:
            # A probe held the upload at the moment the slow PATCH's head arrived: it was answered 409
            # at once. Start it again; the server did what it should.
            lost = slow.recv(65536)
            assert lost.startswith(b"HTTP/1.1 409"), lost
            slow.close()
            slow = start_slow_patch()
            time.sleep(0.05)
            continue
        second = None
        for session, worker in ((w0, "0"), (w1, "1")):
            # A range that cannot fit: refused with 416 while the upload is free, so probing changes nothing.
            second = _on(session, worker, session.patch(f"{base}{target}", data=b"x" * 10,
                                                        headers={"Content-Range": "5-14"}))
            if second.status_code == 409:
                break
        if second.status_code == 409 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert_error(second, 409, "BLOB_UPLOAD_INVALID")
    assert _on(w1, "1", w1.get(f"{base}{target}")).status_code == 204
    slow.sendall(body[1_000_000:])
    slow.settimeout(10)
    answer = slow.recv(65536)
    slow.close()
    assert answer.startswith(b"HTTP/1.1 202"), answer
    digest = digest_of(body)
    r = _on(w1, "1", w1.put(f"{base}{target}{'&' if '?' in target else '?'}digest={digest}"))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("level", ["info", "debug"])
def test_berth_worker_header_is_sent_only_at_debug(start_berth, level):
    """Which process answered tells an anonymous client how the deployment is laid out: only for debugging."""
    berth = start_berth("--workers", "2", "--log-level", level)
    seen = []
    deadline = time.monotonic() + 30
    # Fresh connections, so that both workers answer some (at debug: until both have).
    while time.monotonic() < deadline and (len(seen) < 40 or (level == "debug" and len(set(seen)) < 2)):
        r = requests.get(berth.url("/v2/"), headers={"Connection": "close"}, timeout=10)
        assert r.status_code == 200
        seen.append(r.headers.get("Berth-Worker"))
    if level == "debug":
        assert set(seen) == {"0", "1"}, set(seen)
    else:
        assert set(seen) == {None}, set(seen)
