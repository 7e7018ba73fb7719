"""Kraken namespaces are isolated as registry repositories are: a namespace serves only the blobs put
through it (or, with a registry backend, those its backend has), an upload answers only in the namespace
that started it, and a namespace that cannot be stored is refused before anything is written."""
import os
import time
import urllib.parse

import pytest
import requests

from mirrorutil import upstream_requests
from regutil import assert_error, describe, digest_of, push_blob

pytestmark = pytest.mark.berth_only  # Kraken's API is Berth's own addition

TIMEOUT = 60  # seconds, only to avoid hangs


def _blob(base, namespace, digest):
    return f"{base}/namespace/{urllib.parse.quote(namespace, safe='')}/blobs/{digest}"


def _start(base, namespace, digest):
    return requests.post(f"{_blob(base, namespace, digest)}/uploads", timeout=TIMEOUT)


def _patch(base, namespace, digest, uid, data, start=0):
    return requests.patch(f"{_blob(base, namespace, digest)}/uploads/{uid}", data=data, timeout=TIMEOUT,
                          headers={"Content-Range": f"{start}-{start + len(data)}",
                                   "Content-Type": "application/octet-stream"})


def _commit(base, namespace, digest, uid):
    return requests.put(f"{_blob(base, namespace, digest)}/uploads/{uid}?through=false", timeout=TIMEOUT)


def _upload(base, namespace, data):
    digest = digest_of(data)
    r = _start(base, namespace, digest)
    assert r.status_code == 200, describe(r)
    uid = r.headers["Location"]
    assert _patch(base, namespace, digest, uid, data).status_code == 200
    r = _commit(base, namespace, digest, uid)
    assert r.status_code == 200, describe(r)
    return digest


def _files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_a_namespace_serves_only_the_blobs_put_through_it(registry):
    base = registry.base_url
    pushed = os.urandom(100_000)
    pushed_digest = push_blob(base, "team/app", pushed)
    # Pushed only to a repository, whose own API answers 404 from any other repository.
    assert requests.get(f"{base}/v2/other/blobs/{pushed_digest}", timeout=TIMEOUT).status_code == 404
    for method in (requests.get, requests.head):
        r = method(_blob(base, "anything", pushed_digest), timeout=TIMEOUT)
        assert r.status_code == 404, describe(r)

    blob = os.urandom(200_000)
    digest = _upload(base, "team/a", blob)
    r = requests.get(_blob(base, "team/a", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    assert requests.get(_blob(base, "team/b", digest), timeout=TIMEOUT).status_code == 404
    # Stored, but not in team/b: it takes an upload there (the commit only links the stored bytes).
    assert _start(base, "team/a", digest).status_code == 409
    assert _upload(base, "team/b", blob) == digest
    r = requests.get(_blob(base, "team/b", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)


def test_an_upload_answers_only_in_the_namespace_that_started_it(registry):
    base = registry.base_url
    blob = os.urandom(300_000)
    digest = digest_of(blob)
    r = _start(base, "ns-a", digest)
    assert r.status_code == 200, describe(r)
    uid = r.headers["Location"]
    r = _patch(base, "ns-b", digest, uid, blob)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    r = _commit(base, "ns-b", digest, uid)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    # As an upload nobody started.
    r = _patch(base, "ns-b", digest, "no-such-upload", blob)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    assert requests.get(_blob(base, "ns-b", digest), timeout=TIMEOUT).status_code == 404
    # The upload itself is untouched: it still starts at 0 in its own namespace.
    assert _patch(base, "ns-a", digest, uid, blob).status_code == 200
    assert _commit(base, "ns-a", digest, uid).status_code == 200
    assert requests.get(_blob(base, "ns-a", digest), timeout=TIMEOUT).content == blob
    assert requests.get(_blob(base, "ns-b", digest), timeout=TIMEOUT).status_code == 404


@pytest.mark.parametrize("namespace", ["!" * 86, "é" * 43, "a" * 256, "team\nmodels", "bad\x7f"],
                         ids=["86-punctuation", "43-two-byte-letters", "256-letters", "newline", "delete"])
def test_a_namespace_that_cannot_be_stored_is_400_before_anything_is_written(registry, namespace):
    base = registry.base_url
    blob = os.urandom(10_000)
    digest = digest_of(blob)
    before = _files_under(registry.root)
    r = _start(base, namespace, digest)
    if r.status_code == 200:  # what a store that takes it does next
        uid = r.headers["Location"]
        _patch(base, namespace, digest, uid, blob)
        _commit(base, namespace, digest, uid)
    assert_error(r, 400, "NAME_INVALID")
    r = requests.get(_blob(base, namespace, digest), timeout=TIMEOUT)
    assert_error(r, 400, "NAME_INVALID")
    assert _files_under(registry.root) == before


def test_namespaces_of_bytes_that_are_not_utf8_are_400_not_one_namespace(registry):
    # Both would decode to U+FFFD, and so share one directory.
    digest = digest_of(b"x")
    for escaped in ("%FF", "%FE"):
        r = requests.post(f"{registry.base_url}/namespace/{escaped}/blobs/{digest}/uploads", timeout=TIMEOUT)
        assert_error(r, 400, "NAME_INVALID")


@pytest.mark.parametrize("namespace", ["!" * 85, "é" * 42 + "a" * 3, "a" * 255])
def test_the_longest_namespaces_that_fit_one_directory_are_served(registry, namespace):
    base = registry.base_url
    blob = os.urandom(10_000)
    digest = _upload(base, namespace, blob)
    r = requests.get(_blob(base, namespace, digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)


def test_a_registry_backed_namespace_serves_a_stored_blob_only_once_its_backend_has_it(start_registry, start_berth,
                                                                                       tmp_path):
    upstream = start_registry("reference", label="upstream")
    config = tmp_path / "kraken.yml"
    config.write_text("kraken:\n  namespaces:\n"
                      f"    - pattern: '^models/.*'\n      backend: registry\n      url: '{upstream.base_url}'\n"
                      "      repository: kraken/blobs\n")
    berth = start_berth("--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(tmp_path / "k"))
    base = berth.base_url
    blob = os.urandom(150_000)
    digest = push_blob(base, "team/app", blob)  # stored here, for team/app only
    r = requests.get(_blob(base, "models/x", digest), timeout=TIMEOUT)
    assert r.status_code == 404, describe(r)

    assert push_blob(upstream.base_url, "kraken/blobs", blob) == digest
    r = requests.get(_blob(base, "models/x", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    # The bytes were here: the backend was asked whether it has them, not for them.
    path = f"/v2/kraken/blobs/blobs/{digest}"
    deadline = time.monotonic() + 10
    asked = []
    while ("HEAD", 200) not in asked and time.monotonic() < deadline:  # it logs after answering
        time.sleep(0.05)
        asked = [(m, s) for m, p, _, s in upstream_requests(upstream) if p == path]
    assert ("HEAD", 200) in asked and ("GET", 200) not in asked, asked
