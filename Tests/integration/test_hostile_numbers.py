"""Numbers from clients that do not fit, or are not numbers: Range, Content-Range, Content-Length, Kraken
offsets and page sizes at Int64.max, past it, negative or signed. Each gets an answer, and afterwards the
very same processes serve: a request must not kill a worker (one such PATCH used to trap the worker, and
four in a row stopped the server)."""
import os
import socket

import pytest
import requests

from processes import identity
from regutil import TIMEOUT, assert_error, digest_of, push_image

pytestmark = pytest.mark.berth_only  # the same processes afterwards, and Kraken, are Berth's own

INT64_MAX = 2**63 - 1
HUGE = "99999999999999999999"


@pytest.fixture
def berth(start_berth):
    server = start_berth()
    before = identity(server.proc)
    yield server
    assert server.running, "the server exited\n" + server.logs()[-4000:]
    assert identity(server.proc) == before, "a process died or was replaced\n" + server.logs()[-4000:]
    assert requests.get(server.url("/v2/"), timeout=TIMEOUT).status_code == 200


def _upload(base, name="hostile/numbers"):
    r = requests.post(f"{base}/v2/{name}/blobs/uploads/", timeout=TIMEOUT)
    assert r.status_code == 202, r.text
    return requests.compat.urljoin(base + "/", r.headers["Location"])


@pytest.mark.parametrize("content_range", [f"0-{INT64_MAX}", f"0-{HUGE}", f"{HUGE}-{HUGE}", "-1-5", "0--1", "+0-0", "0-+1"])
def test_an_upload_chunk_with_an_impossible_content_range_is_416_with_the_current_range(berth, content_range):
    location = _upload(berth.base_url)
    for body in (b"x", iter([b"x"])):  # with Content-Length, and chunked
        r = requests.patch(location, data=body, timeout=TIMEOUT,
                           headers={"Content-Range": content_range, "Content-Type": "application/octet-stream"})
        assert_error(r, 416, "RANGE_INVALID")
        assert r.headers["Range"] == "0-0"
    assert requests.get(location, timeout=TIMEOUT).headers["Range"] == "0-0"


def test_a_content_length_past_int64_max_is_413_before_any_handler(berth):
    location = _upload(berth.base_url)
    path = location[len(berth.base_url):]
    with socket.create_connection(("127.0.0.1", berth.port), timeout=TIMEOUT) as s:
        s.sendall(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-0\r\nContent-Length: 10000000000000000000\r\n\r\nx".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert requests.get(location, timeout=TIMEOUT).headers["Range"] == "0-0"


def test_blob_ranges_with_huge_numbers_are_bounded_by_the_blob(berth):
    base = berth.base_url
    blob = os.urandom(1000)
    digest = digest_of(blob)
    r = requests.post(f"{base}/v2/hostile/ranges/blobs/uploads/?digest={digest}", data=blob, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    url = f"{base}/v2/hostile/ranges/blobs/{digest}"
    for header in (f"bytes=0-{INT64_MAX}", f"bytes=0-{HUGE}", f"bytes=-{INT64_MAX}", f"bytes=-{HUGE}"):
        r = requests.get(url, headers={"Range": header}, timeout=TIMEOUT)
        assert r.status_code == 206 and r.content == blob, (header, r.status_code, r.headers)
        assert r.headers["Content-Range"] == "bytes 0-999/1000"
    for header in (f"bytes={INT64_MAX}-", f"bytes={HUGE}-", f"bytes={INT64_MAX}-{INT64_MAX}"):
        r = requests.get(url, headers={"Range": header}, timeout=TIMEOUT)
        assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */1000", (header, r.status_code)
    for header in ("bytes=--1", "bytes=-1-5", "bytes=+1-5", "bytes=1-+5"):
        r = requests.get(url, headers={"Range": header}, timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == blob, (header, r.status_code)


@pytest.mark.parametrize("content_range,status", [
    (f"0-{INT64_MAX}", 400), (f"0,{INT64_MAX}", 400), (f"0-{HUGE}", 400), ("-1-0", 400), ("0--1", 400), ("+0-1", 400),
    (f"{INT64_MAX}-{INT64_MAX}", 400), (f"{INT64_MAX - 1}-{INT64_MAX}", 416), (f"{HUGE}-{HUGE}", 400)])
def test_kraken_chunks_with_impossible_offsets_are_refused(berth, content_range, status):
    base = berth.base_url
    digest = digest_of(b"kraken")
    r = requests.post(f"{base}/namespace/hostile/blobs/{digest}/uploads", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    upload = f"{base}/namespace/hostile/blobs/{digest}/uploads/{r.headers['Location']}"
    r = requests.patch(upload, data=b"x", headers={"Content-Range": content_range}, timeout=TIMEOUT)
    assert r.status_code == status, (content_range, r.status_code, r.text)
    r = requests.patch(upload, data=b"kraken", headers={"Content-Range": "0-6"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert requests.put(f"{upload}?through=false", timeout=TIMEOUT).status_code == 200


def test_page_sizes_past_int64_max_list_everything_and_signed_ones_are_400(berth):
    base = berth.base_url
    push_image(base, "hostile/pages", "v1", nlayers=1)
    for path, key in (("/v2/_catalog", "repositories"), ("/v2/hostile/pages/tags/list", "tags")):
        for n in (str(INT64_MAX), HUGE):
            r = requests.get(f"{base}{path}?n={n}", timeout=TIMEOUT)
            assert r.status_code == 200 and r.json()[key] and "Link" not in r.headers, (path, n, r.status_code, r.text)
        for n in ("-1", "%2B1", "1e3"):
            r = requests.get(f"{base}{path}?n={n}", timeout=TIMEOUT)
            assert r.status_code == 400 and r.json()["errors"], (path, n, r.status_code, r.text)
