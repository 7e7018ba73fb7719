"""A full disk: the push that does not fit gets a JSON error (507), leaves no blob and no space taken,
an upload in progress stays at its last good offset, and the server keeps serving: it starts on a full disk,
serves reads, says so on /healthz, and a worker that dies there is replaced."""
import errno
import os
import signal
import subprocess
import time

import pytest
import requests

from processes import children, identity, wait_until_serving, worker_index
from regutil import MANIFEST_ACCEPT, TIMEOUT, assert_error, digest_of, push_image, wait_for

pytestmark = pytest.mark.berth_only  # registry:2 answers 500 here; 507 and the clean-up are Berth's promise

MiB = 1 << 20


def _used_bytes(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)


@pytest.fixture
def small_disk(tmp_path):
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    # Needs root, as CI has: a real filesystem that really fills up.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10m", "tmpfs", str(mountpoint)], check=True)
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.fixture
def berth_on_small_disk(small_disk, start_berth):
    berth = start_berth(root=small_disk)
    yield berth.base_url, small_disk
    berth.stop_cleanly()


def _assert_error_without_path(response, status):
    assert_error(response, status)
    _assert_no_path(response)


def _assert_no_path(response):
    """The cause (`write /tmp/.../data: No space left on device`) is for the log: no body shows the data root."""
    text = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
    assert "/docker/registry" not in text and "/tmp" not in text and "/disk" not in text, text


def _fill(root):
    """Takes every free byte of the file system: a file of zeros, written until ENOSPC."""
    path = os.path.join(root, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (MiB, 4096, 1):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return path


def _assert_storage_full(response, root):
    _assert_error_without_path(response, 507)
    assert str(root) not in response.text and "/docker/registry" not in response.text, response.text


def _assert_reads(base, image, repository="full/app"):
    r = requests.get(f"{base}/v2/{repository}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == image["manifest"], (r.status_code, r.text)
    r = requests.get(f"{base}/v2/{repository}/blobs/{digest_of(image['layers'][0])}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == image["layers"][0], r.status_code


def test_monolithic_push_larger_than_the_disk_fails_cleanly(berth_on_small_disk):
    base, root = berth_on_small_disk
    body = os.urandom(16 * MiB)
    digest = digest_of(body)
    r = requests.post(f"{base}/v2/full/blobs/uploads/?digest={digest}", data=body,
                      headers={"Content-Type": "application/octet-stream"})
    _assert_error_without_path(r, 507)
    assert requests.head(f"{base}/v2/full/blobs/{digest}").status_code == 404
    # The removal of the failed upload runs on the pool after the answer.
    wait_for(lambda: _used_bytes(root) < MiB, "the failed upload still takes space")

    small = os.urandom(64 * 1024)
    small_digest = digest_of(small)
    r = requests.post(f"{base}/v2/full/blobs/uploads/?digest={small_digest}", data=small,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert requests.get(f"{base}/v2/full/blobs/{small_digest}").content == small


def test_chunk_that_does_not_fit_leaves_the_upload_at_its_last_good_offset(berth_on_small_disk):
    base, _ = berth_on_small_disk
    r = requests.post(f"{base}/v2/full/blobs/uploads/")
    assert r.status_code == 202
    location = requests.compat.urljoin(base + "/", r.headers["Location"])
    first = os.urandom(4 * MiB)
    r = requests.patch(location, data=first, headers={"Content-Type": "application/octet-stream",
                                                     "Content-Range": f"0-{len(first) - 1}"})
    assert r.status_code == 202, r.text
    location = requests.compat.urljoin(base + "/", r.headers["Location"])
    second = os.urandom(8 * MiB)
    r = requests.patch(location, data=second, headers={"Content-Type": "application/octet-stream",
                                                      "Content-Range": f"{len(first)}-{len(first) + len(second) - 1}"})
    _assert_error_without_path(r, 507)
    # The answer says where to resume: what the last 202 acknowledged, not what this request wrote.
    assert r.headers["Range"] == f"0-{len(first) - 1}", r.headers
    assert r.headers["Docker-Upload-UUID"] and r.headers["Location"]
    status = requests.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{len(first) - 1}"
    # A chunk that fits completes the upload: the bytes kept are exactly the first chunk's.
    third = os.urandom(1 * MiB)
    digest = digest_of(first + third)
    r = requests.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=third,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert requests.get(f"{base}/v2/full/blobs/{digest}").content == first + third
    assert requests.get(f"{base}/v2/").status_code == 200


def test_a_full_disk_at_start_serves_reads_refuses_writes_with_507_and_reports_degraded(small_disk, start_berth):
    berth = start_berth(root=small_disk)
    base = berth.base_url
    image = push_image(base, "full/app", "v1", nlayers=1)
    berth.stop_cleanly()
    # A root registry:2 wrote has no change counter: Berth creates it, on a disk with no room for its page.
    os.unlink(os.path.join(small_disk, "docker/registry/v2/.berth-changes"))
    filler = _fill(small_disk)
    berth.start()
    before = identity(berth.proc)
    _assert_reads(base, image)
    health = requests.get(f"{base}/healthz", timeout=TIMEOUT)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "degraded" and health.json()["writes"] is False, health.text
    assert str(small_disk) not in health.text

    _assert_storage_full(requests.post(f"{base}/v2/full/app/blobs/uploads/", timeout=TIMEOUT), small_disk)
    body = os.urandom(64 * 1024)
    _assert_storage_full(requests.post(f"{base}/v2/full/app/blobs/uploads/?digest={digest_of(body)}",
                                       data=body, timeout=TIMEOUT), small_disk)
    _assert_storage_full(requests.put(f"{base}/v2/full/app/manifests/v2", data=image["manifest"], timeout=TIMEOUT,
                                      headers={"Content-Type": image["media_type"]}), small_disk)
    r = requests.post(f"{base}/namespace/full/blobs/{digest_of(body)}/uploads", timeout=TIMEOUT)
    assert r.status_code == 507 and str(small_disk) not in r.text, (r.status_code, r.text)
    # A delete needs no room, and must not kill the worker that raises the change counter.
    assert requests.delete(f"{base}/v2/full/app/manifests/v1", timeout=TIMEOUT).status_code == 202
    assert requests.get(f"{base}/v2/full/app/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}, timeout=TIMEOUT).status_code == 404
    assert berth.running and identity(berth.proc) == before, "a process died on the full disk\n" + berth.logs()[-4000:]

    os.unlink(filler)
    health = requests.get(f"{base}/healthz", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert requests.post(f"{base}/v2/full/app/blobs/uploads/?digest={digest_of(body)}",
                         data=body, timeout=TIMEOUT).status_code == 201


def test_a_worker_that_dies_on_a_full_disk_is_replaced_and_reads_go_on(small_disk, start_berth):
    # Its replacement used to fail the start-up write test, and the supervisor then stopped every worker.
    berth = start_berth("--workers", "2", "--log-level", "debug", root=small_disk)  # Berth-Worker is sent at debug
    base = berth.base_url
    image = push_image(base, "full/app", "v1", nlayers=1)
    _fill(small_disk)
    victim = next(pid for pid in children(berth.pid) if worker_index(pid) == 0)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [pid for pid in children(berth.pid) if worker_index(pid) == 0 and pid != victim]:
        assert berth.running, "the supervisor stopped\n" + berth.logs()[-4000:]
        time.sleep(0.02)
    for index in (0, 1):
        assert wait_until_serving(base, index), f"worker {index} does not serve\n" + berth.logs()[-4000:]
    assert berth.running and len(children(berth.pid)) == 2, berth.logs()[-4000:]
    _assert_reads(base, image)
    assert requests.get(f"{base}/healthz", timeout=TIMEOUT).json()["status"] == "degraded"


def test_kraken_chunk_that_does_not_fit_is_507_without_paths(berth_on_small_disk):
    base, root = berth_on_small_disk
    body = os.urandom(16 * MiB)
    digest = digest_of(body)
    r = requests.post(f"{base}/namespace/ns/blobs/{digest}/uploads")
    assert r.status_code == 200, r.text
    uid = r.headers["Location"]
    r = requests.patch(f"{base}/namespace/ns/blobs/{digest}/uploads/{uid}", data=body,
                       headers={"Content-Range": f"0-{len(body)}", "Content-Type": "application/octet-stream"})
    assert r.status_code == 507, (r.status_code, r.text)
    assert r.text.strip()
    _assert_no_path(r)


def test_a_disk_full_before_the_first_blob_request_does_not_kill_the_server(berth_on_small_disk):
    # The change counter is a mapped file: a page not yet on the disk cannot be touched once the disk is full.
    base, root = berth_on_small_disk
    filler = _fill(root)
    try:
        digest = digest_of(b"never pushed")
        assert requests.get(f"{base}/v2/full/blobs/{digest}").status_code == 404
        assert requests.get(f"{base}/v2/").status_code == 200
    finally:
        os.unlink(filler)


def test_a_full_root_is_degraded_on_health_and_refuses_upload_starts_without_paths(berth_on_small_disk):
    base, root = berth_on_small_disk
    assert requests.get(f"{base}/healthz").status_code == 200
    filler = _fill(root)
    try:
        r = requests.get(f"{base}/healthz")
        assert r.status_code == 200 and r.json()["status"] == "degraded", r.text  # reads are still served
        _assert_no_path(r)
        r = requests.post(f"{base}/v2/full/blobs/uploads/")
        _assert_error_without_path(r, 507)
        digest = digest_of(b"x")
        r = requests.post(f"{base}/namespace/ns/blobs/{digest}/uploads")
        assert r.status_code == 507, r.text
        _assert_no_path(r)
    finally:
        os.unlink(filler)
    assert requests.get(f"{base}/healthz").status_code == 200


def test_a_storage_failure_other_than_a_full_disk_is_500_without_paths(berth_on_small_disk):
    base, root = berth_on_small_disk
    # A file where the repository's directory should be: every write in it fails with ENOTDIR.
    (root / "docker/registry/v2/repositories").mkdir(parents=True, exist_ok=True)
    (root / "docker/registry/v2/repositories/blocked").write_bytes(b"")
    r = requests.post(f"{base}/v2/blocked/app/blobs/uploads/")
    _assert_error_without_path(r, 500)
