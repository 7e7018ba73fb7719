"""Kraken's generic blob API driven as a Kraken user's script would: chunked uploads by Content-Range,
commit by digest, download by digest; the status codes of Kraken's origin."""
import os
import subprocess

import pytest
import requests

from regutil import digest_of

pytestmark = pytest.mark.berth_only  # Kraken's API is Berth's own addition

MiB = 1 << 20


def _start(base, namespace, digest):
    r = requests.post(f"{base}/namespace/{namespace}/blobs/{digest}/uploads")
    return r, r.headers.get("Location")


def _patch(base, namespace, digest, uid, data, start, separator="-"):
    return requests.patch(f"{base}/namespace/{namespace}/blobs/{digest}/uploads/{uid}", data=data,
                          headers={"Content-Range": f"{start}{separator}{start + len(data)}",
                                   "Content-Type": "application/octet-stream"})


def test_chunked_upload_commit_and_download(registry):
    base = registry.base_url
    blob = os.urandom(3 * 8 * MiB + 12345)
    digest = digest_of(blob)
    namespace = "team%2Fmodels"
    r, uid = _start(base, namespace, digest)
    assert r.status_code == 200 and uid and "/" not in uid
    chunks = [blob[i:i + 8 * MiB] for i in range(0, len(blob), 8 * MiB)]
    offset = 0
    for index, chunk in enumerate(chunks):
        r = _patch(base, namespace, digest, uid, chunk, offset, "," if index == 1 else "-")
        assert r.status_code == 200, r.text
        offset += len(chunk)
    r = requests.put(f"{base}/namespace/{namespace}/blobs/{digest}/uploads/{uid}?through=false")
    assert r.status_code == 200, r.text
    r = requests.get(f"{base}/namespace/{namespace}/blobs/{digest}")
    assert r.status_code == 200 and r.content == blob
    r = requests.get(f"{base}/namespace/{namespace}/blobs/{digest.split(':')[1]}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == blob[10:20]
    # A start for a stored blob is a conflict, which Kraken's clients read as done.
    assert _start(base, namespace, digest)[0].status_code == 409


def test_wrong_range_is_refused_and_nothing_written_is_lost(registry):
    base = registry.base_url
    blob = os.urandom(3 * MiB)
    digest = digest_of(blob)
    _, uid = _start(base, "ns", digest)
    assert _patch(base, "ns", digest, uid, blob[:MiB], 0).status_code == 200
    r = _patch(base, "ns", digest, uid, blob[2 * MiB:], 2 * MiB)  # skips a chunk
    assert r.status_code == 416 and r.text
    r = requests.patch(f"{base}/namespace/ns/blobs/{digest}/uploads/{uid}", data=blob[MiB:2 * MiB],
                       headers={"Content-Range": f"{MiB}-{MiB + 10}"})  # length does not match the range
    assert r.status_code == 400 and r.text
    assert _patch(base, "ns", digest, uid, blob[MiB:2 * MiB], MiB).status_code == 200
    assert _patch(base, "ns", digest, uid, blob[2 * MiB:], 2 * MiB).status_code == 200
    assert requests.put(f"{base}/namespace/ns/blobs/{digest}/uploads/{uid}").status_code == 200
    assert requests.get(f"{base}/namespace/ns/blobs/{digest}").content == blob


def test_wrong_digest_on_commit_is_400_and_discards_the_upload(registry):
    base = registry.base_url
    blob = os.urandom(MiB)
    claimed = digest_of(b"something else")
    _, uid = _start(base, "ns", claimed)
    assert _patch(base, "ns", claimed, uid, blob, 0).status_code == 200
    r = requests.put(f"{base}/namespace/ns/blobs/{claimed}/uploads/{uid}")
    assert r.status_code == 400 and "digest" in r.text
    assert requests.put(f"{base}/namespace/ns/blobs/{claimed}/uploads/{uid}").status_code == 404
    assert requests.get(f"{base}/namespace/ns/blobs/{claimed}").status_code == 404


def test_unknown_upload_unknown_blob_and_bad_digest(registry):
    base = registry.base_url
    digest = digest_of(b"never uploaded")
    assert _patch(base, "ns", digest, "no-such-upload", b"abc", 0).status_code == 404
    assert requests.get(f"{base}/namespace/ns/blobs/{digest}").status_code == 404
    r = requests.get(f"{base}/namespace/ns/blobs/md5:abc")
    assert r.status_code == 400 and r.text
    assert requests.post(f"{base}/namespace/ns/blobs/xyz/uploads").status_code == 400


def test_upload_resumes_after_berth_is_killed_and_restarted(registry):
    base = registry.base_url
    blob = os.urandom(4 * MiB)
    digest = digest_of(blob)
    _, uid = _start(base, "ns", digest)
    assert _patch(base, "ns", digest, uid, blob[:2 * MiB], 0).status_code == 200
    registry.kill()
    registry.restart()
    base = registry.base_url
    assert _patch(base, "ns", digest, uid, blob[2 * MiB:], 2 * MiB).status_code == 200
    assert requests.put(f"{base}/namespace/ns/blobs/{digest}/uploads/{uid}?through=true").status_code == 200
    assert requests.get(f"{base}/namespace/ns/blobs/{digest}").content == blob


def test_garbage_collection_keeps_blobs_stored_through_kraken(registry):
    base = registry.base_url
    blob = os.urandom(MiB)
    digest = digest_of(blob)
    _, uid = _start(base, "keep", digest)
    assert _patch(base, "keep", digest, uid, blob, 0).status_code == 200
    assert requests.put(f"{base}/namespace/keep/blobs/{digest}/uploads/{uid}").status_code == 200
    output = subprocess.run([os.environ["BERTH_BIN"], "garbage-collect", "--root", str(registry.root)],
                            check=True, capture_output=True, text=True, timeout=60).stdout
    assert "0 blobs and 0 manifests eligible" in output, output
    assert requests.get(f"{base}/namespace/keep/blobs/{digest}").content == blob


def test_configured_namespaces_serve_matches_and_refuse_the_rest(start_berth, tmp_path):
    config = tmp_path / "kraken.yml"
    config.write_text("kraken:\n  namespaces:\n    - pattern: '^team/.*'\n      backend: local\n")
    # The fixture's own --config comes first; this one, given last, is the one read (addr and root by flag).
    berth = start_berth("--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(tmp_path / "k"))
    base = berth.base_url
    blob = os.urandom(1000)
    digest = digest_of(blob)
    r, uid = _start(base, "team%2Fmodels", digest)
    assert r.status_code == 200
    r, _ = _start(base, "other", digest)
    assert r.status_code == 404 and "namespace" in r.text
    assert requests.get(f"{base}/namespace/other/blobs/{digest}").status_code == 404


def test_a_backend_berth_does_not_have_yet_is_a_config_error(tmp_path):
    config = tmp_path / "kraken.yml"
    config.write_text("kraken:\n  namespaces:\n    - pattern: '.*'\n      backend: s3\n")
    result = subprocess.run([os.environ["BERTH_BIN"], "serve", "--config", str(config), "--root", str(tmp_path / "d")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "kraken.namespaces[0].backend" in result.stderr and str(config) in result.stderr
