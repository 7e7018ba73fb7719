"""Memory stays bounded: a request's buffers go when the request does (no per-request leak)."""
import os

import pytest
import requests

from regutil import digest_of

pytestmark = pytest.mark.berth_only  # reads Berth's own process memory

MiB = 1 << 20


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def test_many_chunked_uploads_do_not_grow_memory(start_berth):
    berth = start_berth("--workers", "1")
    base = berth.base_url
    session = requests.Session()

    def upload(chunks):
        r = session.post(f"{base}/v2/mem/blobs/uploads/")
        location = requests.compat.urljoin(base + "/", r.headers["Location"])
        whole, offset = b"", 0
        for chunk in chunks:
            r = session.patch(location, data=chunk, headers={"Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
            assert r.status_code == 202, r.text
            location = requests.compat.urljoin(base + "/", r.headers["Location"])
            offset += len(chunk)
            whole += chunk
        digest = digest_of(whole)
        assert session.put(f"{location}{'&' if '?' in location else '?'}digest={digest}").status_code == 201

    upload([os.urandom(2 * MiB) for _ in range(5)])  # warm up: buffers, pool threads, arenas
    before = _rss_kib(berth.pid)
    for _ in range(8):
        upload([os.urandom(2 * MiB) for _ in range(5)])
    grown = _rss_kib(berth.pid) - before
    # 40 requests that each kept their two 2 MiB buffers would add 160 MiB.
    assert grown < 24 * 1024, f"RSS grew by {grown} KiB over 40 chunk uploads"
    berth.stop_cleanly()
