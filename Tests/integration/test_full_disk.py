"""A full disk: the push that does not fit gets a JSON error (507), leaves no blob and no space taken,
an upload in progress stays at its last good offset, and the server keeps serving."""
import hashlib
import os
import subprocess
import time

import pytest
import requests

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


def _assert_json_error(response, status):
    assert response.status_code == status, (response.status_code, response.text)
    errors = response.json()["errors"]
    assert errors and {"code", "message"} <= set(errors[0])
    _assert_no_path(response)


def _assert_no_path(response):
    """The cause (`write /tmp/.../data: No space left on device`) is for the log: no body shows the data root."""
    text = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
    assert "/docker/registry" not in text and "/tmp" not in text and "/disk" not in text, text


def test_monolithic_push_larger_than_the_disk_fails_cleanly(berth_on_small_disk):
    base, root = berth_on_small_disk
    body = os.urandom(16 * MiB)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    r = requests.post(f"{base}/v2/full/blobs/uploads/?digest={digest}", data=body,
                      headers={"Content-Type": "application/octet-stream"})
    _assert_json_error(r, 507)
    assert requests.head(f"{base}/v2/full/blobs/{digest}").status_code == 404
    time.sleep(0.5)  # the removal of the failed upload runs on the pool after the answer
    assert _used_bytes(root) < MiB, "the failed upload still takes space"

    small = os.urandom(64 * 1024)
    small_digest = "sha256:" + hashlib.sha256(small).hexdigest()
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
    _assert_json_error(r, 507)
    status = requests.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{len(first) - 1}"
    # A chunk that fits completes the upload: the bytes kept are exactly the first chunk's.
    third = os.urandom(1 * MiB)
    digest = "sha256:" + hashlib.sha256(first + third).hexdigest()
    r = requests.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=third,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert requests.get(f"{base}/v2/full/blobs/{digest}").content == first + third
    assert requests.get(f"{base}/v2/").status_code == 200


def test_kraken_chunk_that_does_not_fit_is_507_without_paths(berth_on_small_disk):
    base, root = berth_on_small_disk
    body = os.urandom(16 * MiB)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    r = requests.post(f"{base}/namespace/ns/blobs/{digest}/uploads")
    assert r.status_code == 200, r.text
    uid = r.headers["Location"]
    r = requests.patch(f"{base}/namespace/ns/blobs/{digest}/uploads/{uid}", data=body,
                       headers={"Content-Range": f"0-{len(body)}", "Content-Type": "application/octet-stream"})
    assert r.status_code == 507, (r.status_code, r.text)
    assert r.text.strip()
    _assert_no_path(r)


def _fill(root):
    filler = root / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass  # ENOSPC: not one page is left
    return filler


def test_a_disk_full_before_the_first_blob_request_does_not_kill_the_server(berth_on_small_disk):
    # The change counter is a mapped file: a page not yet on the disk cannot be touched once the disk is full.
    base, root = berth_on_small_disk
    filler = _fill(root)
    try:
        digest = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()
        assert requests.get(f"{base}/v2/full/blobs/{digest}").status_code == 404
        assert requests.get(f"{base}/v2/").status_code == 200
    finally:
        filler.unlink()


def test_a_full_root_fails_health_and_upload_starts_without_paths(berth_on_small_disk):
    base, root = berth_on_small_disk
    assert requests.get(f"{base}/healthz").status_code == 200
    filler = _fill(root)
    try:
        r = requests.get(f"{base}/healthz")
        assert r.status_code == 503, r.text
        _assert_no_path(r)
        r = requests.post(f"{base}/v2/full/blobs/uploads/")
        _assert_json_error(r, 507)
        digest = "sha256:" + hashlib.sha256(b"x").hexdigest()
        r = requests.post(f"{base}/namespace/ns/blobs/{digest}/uploads")
        assert r.status_code == 507, r.text
        _assert_no_path(r)
    finally:
        filler.unlink()
    assert requests.get(f"{base}/healthz").status_code == 200


def test_a_storage_failure_other_than_a_full_disk_is_500_without_paths(berth_on_small_disk):
    base, root = berth_on_small_disk
    # A file where the repository's directory should be: every write in it fails with ENOTDIR.
    (root / "docker/registry/v2/repositories").mkdir(parents=True, exist_ok=True)
    (root / "docker/registry/v2/repositories/blocked").write_bytes(b"")
    r = requests.post(f"{base}/v2/blocked/app/blobs/uploads/")
    _assert_json_error(r, 500)
