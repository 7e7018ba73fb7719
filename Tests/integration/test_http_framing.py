"""Request heads whose body framing a server and the parser could read differently (request smuggling):
each is refused with 400 and a close, and the registry takes no bytes from it (RFC 9112 §5.1, §6.1, §6.3)."""

import urllib.parse

import pytest
import requests

from regutil import TIMEOUT, connect, describe, digest_of, location, raw_request, start_upload


def patch_head(registry, loc, fields):
    url = urllib.parse.urlsplit(loc if "://" in loc else registry.base_url + loc)
    target = url.path + (f"?{url.query}" if url.query else "")
    return (f"PATCH {target} HTTP/1.1\r\nHost: {registry.host}\r\nContent-Type: application/octet-stream\r\n"
            + "".join(f"{line}\r\n" for line in fields) + "\r\n").encode()


def assert_upload_took_nothing(registry, loc):
    """The upload is still empty, so a whole blob pushed through it now gets the right digest."""
    r = requests.get(registry.base_url + loc if "://" not in loc else loc, timeout=TIMEOUT)
    assert r.status_code == 204, describe(r)
    assert r.headers.get("Range") in ("0-0", "bytes=0-0"), describe(r)
    r = requests.patch(location(r) if r.headers.get("Location") else loc, data=b"world",
                       headers={"Content-Type": "application/octet-stream"}, timeout=TIMEOUT)
    assert r.status_code == 202, describe(r)
    r = requests.put(location(r), params={"digest": digest_of(b"world")}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)


@pytest.mark.parametrize("fields", [
    pytest.param(["Content-Length : 5"], id="space-before-colon"),
    pytest.param(["Content-Length\t: 5"], id="tab-before-colon"),
    pytest.param(["Transfer-Encoding : chunked"], id="te-space-before-colon"),
    pytest.param(["Content-Length: 5", "Content-Length: 6"], id="two-lengths"),
    # RFC 9112 §6.1 lets a server reject this or frame by Transfer-Encoding alone; the reference (Go) does the
    # latter (202, and keeps the connection open, which §6.1 forbids). Berth refuses it.
    pytest.param(["Content-Length: 5", "Transfer-Encoding: chunked"], id="length-and-chunked",
                 marks=pytest.mark.berth_only),
    # RFC 9112 §6.3 says 400; the reference answers 501 "Unsupported transfer encoding".
    pytest.param(["Transfer-Encoding: chunked, identity"], id="chunked-not-final", marks=pytest.mark.berth_only),
])
def test_a_patch_whose_framing_is_ambiguous_is_400_and_the_upload_takes_nothing(registry, fields):
    loc = location(start_upload(registry.base_url, "framing/test"))
    body = b"5\r\nhello\r\n0\r\n\r\n" if any("chunked" in f for f in fields) else b"hello"
    r = raw_request(registry.host, patch_head(registry, loc, fields) + body, method="PATCH", wait_close=True)
    assert r.status == 400, r
    assert r.closed, r
    assert_upload_took_nothing(registry, loc)


def test_whitespace_before_the_colon_of_any_field_is_400(registry):
    for field in ("Accept : */*", "X Forwarded: 1", "Host : x"):
        head = f"GET /v2/ HTTP/1.1\r\nHost: {registry.host}\r\n{field}\r\n\r\n".encode()
        r = raw_request(registry.host, head, wait_close=True)
        assert r.status == 400, (field, r)
        assert r.closed, (field, r)
    assert requests.get(registry.base_url + "/v2/", timeout=TIMEOUT).status_code == 200


def read_until_close(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def status_lines(data):
    return [line for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.")]


@pytest.mark.parametrize("garbage_later", [False, True], ids=["in-one-packet", "after-the-answer"])
def test_a_malformed_body_after_an_early_answer_gets_no_second_answer(registry, garbage_later):
    """POST starting an upload is answered before its (ignored) body ends. When that body then turns out
    malformed, the one answer the request may have (RFC 9112 §9.3) is already given: the connection closes
    without a second one, which a client would read as the answer to its next request."""
    head = (f"POST /v2/framing/early/blobs/uploads/ HTTP/1.1\r\nHost: {registry.host}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").encode()
    with connect(registry.host, TIMEOUT) as s:
        s.sendall(head if garbage_later else head + b"ZZZ\r\n")
        if garbage_later:
            first = b""
            while b"\r\n\r\n" not in first:
                chunk = s.recv(65536)
                assert chunk, first
                first += chunk
            s.sendall(b"ZZZ\r\n")
        else:
            first = b""
        data = first + read_until_close(s)
    lines = status_lines(data)
    assert len(lines) == 1, data
    assert lines[0].startswith(b"HTTP/1.1 202"), data
    assert requests.get(registry.base_url + "/v2/", timeout=TIMEOUT).status_code == 200
