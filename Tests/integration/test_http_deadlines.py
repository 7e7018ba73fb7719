"""A peer that stalls is cut, with the progress window shortened to 2 s (BERTH_HTTP_PROGRESSWINDOW; 120 s by
default): a reader that stops taking a large manifest is reset while others are served, a body trickled below
the minimum rate gets 408. A client over BERTH_HTTP_MAXCONNSPERCLIENT connections has the extra ones closed."""

import json
import re
import select
import socket
import time
import urllib.parse

import pytest
import requests

from regutil import (OCI_CONFIG, OCI_MANIFEST, TIMEOUT, canonical, connect, describe, descriptor, location,
                     push_blob, read_response, start_upload)

pytestmark = pytest.mark.berth_only  # Berth's own limits and settings
WINDOW = {"BERTH_HTTP_PROGRESSWINDOW": "2"}
WAIT = 30  # seconds: only a bound on waiting for a condition, never a duration asserted


def wait_until_reset(sock, seconds=WAIT):
    """True when the server resets the connection (seen without reading a byte), False after `seconds`."""
    poller = select.poll()
    poller.register(sock, select.POLLERR | select.POLLHUP)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(seconds * 1000))


def push_large_manifest(base, repo):
    config = canonical({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
    push_blob(base, repo, config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                "layers": [], "annotations": {"pad": ""}}
    manifest["annotations"]["pad"] = "x" * ((4 << 20) - len(canonical(manifest)) - 1024)
    body = canonical(manifest)
    r = requests.put(f"{base}/v2/{repo}/manifests/big", data=body, headers={"Content-Type": OCI_MANIFEST},
                     timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    return body


def test_a_reader_that_stops_taking_a_large_manifest_is_reset_while_another_is_served(start_berth):
    berth = start_berth(env=WINDOW)
    body = push_large_manifest(berth.base_url, "slow/reader")
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server's send buffer holds the rest
    stalled.connect(("127.0.0.1", berth.port))
    with stalled:
        stalled.sendall(f"GET /v2/slow/reader/manifests/big HTTP/1.1\r\nHost: {berth.host}\r\n"
                        f"Accept: {OCI_MANIFEST}\r\n\r\n".encode())
        r = requests.get(f"{berth.base_url}/v2/slow/reader/manifests/big", headers={"Accept": OCI_MANIFEST},
                         timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == body, describe(r)
        assert wait_until_reset(stalled), f"the stalled reader is still connected after {WAIT} s"
    r = requests.get(f"{berth.base_url}/v2/slow/reader/manifests/big", headers={"Accept": OCI_MANIFEST},
                     timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == body, describe(r)


def test_a_patch_body_trickled_a_byte_at_a_time_is_cut_with_408(start_berth):
    berth = start_berth(env=WINDOW)
    loc = urllib.parse.urlsplit(urllib.parse.urljoin(berth.base_url + "/", location(
        start_upload(berth.base_url, "slow/writer"))))
    with connect(berth.host) as s:
        s.sendall(f"PATCH {loc.path}?{loc.query} HTTP/1.1\r\nHost: {berth.host}\r\n"
                  f"Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n".encode())
        deadline = time.monotonic() + WAIT
        answered = False
        while not answered and time.monotonic() < deadline:
            try:
                s.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                answered = True  # cut: the answer is already in the receive buffer
                break
            answered = bool(select.select([s], [], [], 1.0)[0])
        assert answered, f"a body trickled for {WAIT} s is still being read"
        r = read_response(s, method="PATCH", wait_close=True)
    assert r.status == 408, r
    assert r.closed, r
    errors = json.loads(r.body)["errors"]
    assert errors and "code" in errors[0], r
    assert requests.get(f"{berth.base_url}/v2/", timeout=TIMEOUT).status_code == 200


def served(sock, host):
    """One GET /v2/ on a kept-alive connection: True when answered 200, False when the server closed it."""
    try:
        sock.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    except (BrokenPipeError, ConnectionResetError):
        return False
    return read_response(sock).status == 200


def connect_served(host):
    """A connection that the server accepted and answered; retried while earlier connections still hold a place
    (the fixture's readiness probe stays open until Python collects it)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sock = connect(host)
        if served(sock, host):
            return sock
        sock.close()
        time.sleep(0.05)
    pytest.fail(f"no connection was served within {WAIT} s")


def test_connections_over_the_per_client_limit_are_refused_while_the_first_ones_keep_working(start_berth):
    berth = start_berth("--workers", "1", env={"BERTH_HTTP_MAXCONNSPERCLIENT": "3"})
    first = [connect_served(berth.host) for _ in range(3)]
    try:
        for _ in range(3):
            with connect(berth.host) as extra:
                assert not served(extra, berth.host), "a connection over the limit was served"
        assert all(served(sock, berth.host) for sock in first), "a connection within the limit stopped working"
        first.pop().close()
        first.append(connect_served(berth.host))  # the place of a closed connection is free again
        assert all(served(sock, berth.host) for sock in first)
    finally:
        for sock in first:
            sock.close()
    logged = re.compile(r"refused \d+ connection\(s\) from clients holding 3 already")
    deadline = time.monotonic() + WAIT  # refusals are counted in one line a second, not one line each
    while not logged.search(berth.logs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert logged.search(berth.logs()), berth.logs()
