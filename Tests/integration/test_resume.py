"""Crash and network-failure behaviour: uploads survive SIGKILL, torn bodies leave nothing visible."""

import re
import socket
import urllib.parse

import time

import pytest
import requests

from regutil import (OCI_MANIFEST, TIMEOUT, connect, describe, digest_of, get_manifest, location, push_image,
                     random_bytes, start_upload, with_query)

OCTET = {"Content-Type": "application/octet-stream"}


def range_end(resp):
    m = re.match(r"^(?:bytes=)?0-(\d+)$", resp.headers.get("Range", ""))
    assert m, f"no/odd Range header\n{describe(resp)}"
    return int(m.group(1))


def patch(url, data, start):
    return requests.patch(url, data=data, timeout=TIMEOUT,
                          headers={**OCTET, "Content-Range": f"{start}-{start + len(data) - 1}"})


def request_target(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def send_torn_body(registry, method, url, body, headers=None):
    """Send the head announcing len(body) bytes, only half of them, then end the connection.

    The client half-closes and reads until the server closes too (whatever it answers): the
    server has then seen the truncation and finished with that request, so what the test does
    next does not race with it."""
    hdrs = {"Host": registry.host, "Content-Type": "application/octet-stream", "Content-Length": str(len(body))}
    hdrs.update(headers or {})
    head = f"{method} {request_target(url)} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    with connect(registry.host) as s:
        s.sendall(head.encode() + b"\r\n" + body[: len(body) // 2])
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise AssertionError(f"{registry.label} kept the connection open after the client ended a "
                                 f"{method} in the middle of its body (EOF before Content-Length)")


def assert_alive(registry):
    r = requests.get(f"{registry.base_url}/v2/", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)


def assert_blob_absent(registry, repo, d):
    h = requests.head(f"{registry.base_url}/v2/{repo}/blobs/{d}", timeout=TIMEOUT)
    assert h.status_code == 404, describe(h)


def assert_blob(registry, repo, data):
    g = requests.get(f"{registry.base_url}/v2/{repo}/blobs/{digest_of(data)}", timeout=TIMEOUT)
    assert g.status_code == 200, describe(g)
    assert g.content == data


def monolithic_post(registry, repo, data):
    """POST ?digest= with the body; if the registry answers 202 (allowed), finish with a PUT."""
    d = digest_of(data)
    r = requests.post(f"{registry.base_url}/v2/{repo}/blobs/uploads/?digest={d}", data=data, headers=OCTET,
                      timeout=TIMEOUT)
    if r.status_code == 202:
        r = requests.put(with_query(location(r), digest=d), data=data, headers=OCTET, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)


def test_chunked_upload_resumes_after_sigkill_and_restart(registry):
    base = registry.base_url
    image = push_image(base, "team/app", "v1")
    assert image["response"].status_code == 201

    data = random_bytes(600_000)
    url = location(start_upload(base, "team/app"))
    for start, end in ((0, 200_000), (200_000, 350_000)):
        p = patch(url, data[start:end], start)
        assert p.status_code == 202, describe(p)
        assert range_end(p) == end - 1
        url = location(p)

    registry.kill()
    registry.restart()

    g = requests.get(url, timeout=TIMEOUT)
    assert g.status_code == 204, describe(g)
    assert range_end(g) == 349_999
    url = location(g)
    p = patch(url, data[350_000:], 350_000)
    assert p.status_code == 202, describe(p)
    assert range_end(p) == len(data) - 1
    r = requests.put(with_query(location(p), digest=digest_of(data)), headers=OCTET, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest_of(data)
    assert_blob(registry, "team/app", data)

    # What was committed before the crash is still served.
    m = get_manifest(base, "team/app", "v1", accept=OCI_MANIFEST)
    assert m.status_code == 200 and m.content == image["manifest"], describe(m)
    for layer in image["layers"]:
        assert_blob(registry, "team/app", layer)


def test_put_with_body_cut_mid_way_leaves_no_blob_and_a_retry_succeeds(registry):
    data = random_bytes(1_000_000)
    d = digest_of(data)
    url = location(start_upload(registry.base_url, "team/torn"))
    send_torn_body(registry, "PUT", with_query(url, digest=d), data)

    assert_alive(registry)
    assert_blob_absent(registry, "team/torn", d)

    url = location(start_upload(registry.base_url, "team/torn"))
    r = requests.put(with_query(url, digest=d), data=data, headers=OCTET, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    assert_blob(registry, "team/torn", data)


def test_monolithic_post_cut_mid_way_leaves_no_blob_and_a_retry_succeeds(registry):
    data = random_bytes(1_000_000)
    d = digest_of(data)
    send_torn_body(registry, "POST", f"{registry.base_url}/v2/team/torn/blobs/uploads/?digest={d}", data)

    assert_alive(registry)
    assert_blob_absent(registry, "team/torn", d)

    monolithic_post(registry, "team/torn", data)
    assert_blob(registry, "team/torn", data)


@pytest.mark.berth_only  # the reference appends the partial chunk, but the offset signed into the
# Location's `_state` no longer matches the file, so the upload is dead: 404 BLOB_UPLOAD_INVALID.
def test_patch_cut_mid_way_then_resume_from_reported_range(registry):
    """After a torn PATCH the upload is still usable: the status Range says where to resume
    (anywhere from the end of the last acknowledged chunk to what actually arrived)."""
    base = registry.base_url
    data = random_bytes(800_000)
    url = location(start_upload(base, "team/torn"))
    p = patch(url, data[:200_000], 0)
    assert p.status_code == 202, describe(p)
    url = location(p)
    send_torn_body(registry, "PATCH", url, data[200_000:600_000],
                   headers={"Content-Range": f"200000-{600_000 - 1}"})
    assert_alive(registry)
    assert_blob_absent(registry, "team/torn", digest_of(data))

    g = requests.get(url, timeout=TIMEOUT)
    assert g.status_code == 204, describe(g)
    resume = range_end(g) + 1
    assert 200_000 <= resume <= 400_000, describe(g)
    p = patch(location(g), data[resume:], resume)
    # As a client does: on 416 (the torn body's bytes landed meanwhile) or 409 (the torn request still holds
    # the upload while its last write finishes), ask where to resume and send again.
    deadline = time.monotonic() + 30
    while p.status_code in (409, 416) and time.monotonic() < deadline:
        time.sleep(0.1)
        g = requests.get(url, timeout=TIMEOUT)
        resume = range_end(g) + 1
        assert 200_000 <= resume <= 400_000, describe(g)
        p = patch(location(g), data[resume:], resume)
    assert p.status_code == 202, describe(p)
    r = requests.put(with_query(location(p), digest=digest_of(data)), headers=OCTET, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    assert_blob(registry, "team/torn", data)
