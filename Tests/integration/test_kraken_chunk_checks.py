"""Kraken's PATCH runs on the upload state machine: which answer a chunk gets when it is wrong in more
than one way, and that an empty chunk is answered without a body, where the upload stands or not."""
import hashlib

import pytest
import requests

pytestmark = pytest.mark.berth_only  # Kraken's API is Berth's own addition


def _upload(base, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"{base}/namespace/ns/blobs/{digest}/uploads")
    assert r.status_code == 200
    return f"{base}/namespace/ns/blobs/{digest}/uploads/{r.headers['Location']}"


def test_a_chunk_whose_length_and_start_are_both_wrong_is_400_for_the_length(registry):
    url = _upload(registry.base_url, b"abcdef")
    r = requests.patch(url, data=b"abc", headers={"Content-Range": "3-10"})
    assert r.status_code == 400 and "needs 7" in r.text
    r = requests.patch(url, data=b"abc", headers={"Content-Range": "3-6"})
    assert r.status_code == 416 and "the upload is at 0" in r.text


def test_an_empty_chunk_is_200_where_the_upload_stands_and_416_elsewhere(registry):
    url = _upload(registry.base_url, b"abcdef")
    assert requests.patch(url, data=b"", headers={"Content-Range": "0-0"}).status_code == 200
    assert requests.patch(url, data=b"abc", headers={"Content-Range": "0-3"}).status_code == 200
    assert requests.patch(url, data=b"", headers={"Content-Range": "3-3"}).status_code == 200
    r = requests.patch(url, data=b"", headers={"Content-Range": "5-5"})
    assert r.status_code == 416 and "the upload is at 3" in r.text
    r = requests.patch(url, data=b"", headers={"Content-Range": "3-4"})
    assert r.status_code == 400
