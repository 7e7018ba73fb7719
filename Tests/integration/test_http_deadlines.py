"""A peer that stalls is cut, with the progress window shortened to 2 s (BERTH_HTTP_PROGRESSWINDOW; 120 s by
default): a reader that stops taking a large manifest is reset while others are served, a body trickled below
the minimum rate gets 408."""

import json
import select
import socket
import time
import urllib.parse

import pytest
import requests

from regutil import (OCI_CONFIG, OCI_MANIFEST, TIMEOUT, canonical, connect, describe, descriptor, location,
                     push_blob, random_bytes, read_response, start_upload)

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
