"""Logs an operator can ship: `log.formatter: json` writes one JSON object per line of stderr, access lines
with the client, user agent, bytes, duration, worker and (on the mirror) the cache result; an upload the
client cuts mid-body is logged as aborted; text stays the default and keeps its format; an online GC turn
that finds another process sweeping logs nothing at info.

Every line of stderr is parsed (the harness's own `=====` start lines aside). Nothing waits on a time:
each wait is for a line to appear, with a deadline."""
import fcntl
import json
import os
import re
import socket
import struct
import subprocess
import time
import urllib.parse

import pytest
import requests

from conftest import berth_binary
from mirrorutil import TIMEOUT, build_image, pull_through, push_to_upstream, start_mirror, write_mirror_config
from regutil import OCI_MANIFEST, describe, digest_of, location, push_image, random_bytes, start_upload

pytestmark = pytest.mark.berth_only  # Berth's log format; docker-registry is the mirror's upstream here

CACHE_RESULTS = {"hit", "miss", "stale", "revalidated", "coalesced"}
_TEXT_ACCESS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info \S+ "[A-Z]+ \S+" (\d{3}|aborted) \d+ \d+us')


def _lines(berth):
    """Every JSON object Berth wrote to stderr; a line that is not one fails the test."""
    out = []
    for line in berth.logs().splitlines():
        if not line or line.startswith("===== start #"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}\n{berth.logs()}")
        assert isinstance(obj, dict), line
        for key, kind in (("time", str), ("level", str), ("msg", str)):
            assert isinstance(obj.get(key), kind), f"{key} missing in {line!r}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["time"]), line
        assert obj["level"] in ("debug", "info", "warn", "error"), line
        out.append(obj)
    return out


def _access(berth):
    lines = [o for o in _lines(berth) if o["msg"] in ("access", "aborted")]
    for o in lines:
        for key, kind in (("method", str), ("path", str), ("status", int), ("bytes", int), ("bytes_received", int),
                          ("duration", (int, float)), ("client", str), ("user_agent", str), ("worker", int)):
            assert isinstance(o.get(key), kind), f"{key} missing or not {kind} in {o}"
        assert re.fullmatch(r"127\.0\.0\.1:\d+", o["client"]), o
        assert o["bytes"] >= 0 and o["duration"] >= 0, o
    return lines


def _wait_for(berth, condition, what, wait=20.0):
    """The access lines once `condition(lines)` holds (the line is written after the answer goes out)."""
    deadline = time.monotonic() + wait
    while True:
        lines = _access(berth)
        if condition(lines):
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"no log line for {what} within {wait}s:\n{berth.logs()}")
        time.sleep(0.05)


def _start_json(start_berth, tmp_path, level, extra="", root=None, env=None):
    """Berth with `log: {formatter: json, level: <level>}`. The fixture's own --config comes first; this one,
    given last, is the one read (addr and root by flag)."""
    path = tmp_path / "json.yml"
    path.write_text(f"log: {{formatter: json, level: {level}}}\n{extra}")
    root = root or tmp_path / "json-root"
    return start_berth("--config", str(path), "--addr", "127.0.0.1:PORT", "--root", str(root), env=env)


def _abort_upload(berth, repo, reset):
    """POST, then a PATCH announcing 1 MB that sends 100 kB and closes (a reset when `reset`): the client's
    address as the server sees it, and what was sent."""
    upload = location(start_upload(berth.base_url, repo))
    target = urllib.parse.urlsplit(upload)
    path = target.path + (f"?{target.query}" if target.query else "")
    sent = 100_000
    s = socket.create_connection(("127.0.0.1", berth.port), timeout=TIMEOUT)
    client = "%s:%d" % s.getsockname()
    s.sendall(f"PATCH {path} HTTP/1.1\r\nHost: {berth.host}\r\nUser-Agent: aborting-client/1.0\r\n"
              f"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n".encode())
    # Berth has accepted the connection and taken the head (a reset before the accept leaves no address to read).
    assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(random_bytes(sent))
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        # The end of input comes after the bytes: Berth has read them all when it closes its side.
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
    s.close()
    return client, path, sent


@pytest.mark.parametrize("level", ["info", "debug"])
def test_json_logs_parse_line_by_line_with_every_access_field(start_registry, start_berth, tmp_path, level):
    berth = _start_json(start_berth, tmp_path, level)
    session = requests.Session()
    session.headers["User-Agent"] = 'log-test "quoted" \\ /1.0'
    image = push_image(berth.base_url, "team/app", "v1")
    assert image["response"].status_code == 201, describe(image["response"])
    r = session.get(f"{berth.base_url}/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    assert r.status_code == 200
    layer = image["layers"][0]
    r = session.get(f"{berth.base_url}/v2/team/app/blobs/{digest_of(layer)}?ns=x&token=s3cr3t", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == layer
    # A hostile target and user agent: quotes, backslashes, a tab and bytes that are not UTF-8 (control
    # characters the HTTP parser refuses before any log line; the unit tests cover those).
    hostile = b'/v2/a"b\\c\xff\xfe/tags/list'
    agent = b'\xff"}\\\tx'
    s = socket.create_connection(("127.0.0.1", berth.port), timeout=TIMEOUT)
    s.sendall(b"GET " + hostile + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: " + agent + b"\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()

    lines = _wait_for(berth, lambda ls: any(o["path"].startswith('/v2/a"b') for o in ls), "the hostile target")
    manifest = [o for o in lines if o["method"] == "GET" and o["path"] == "/v2/team/app/manifests/v1"]
    assert manifest and manifest[0]["status"] == 200 and manifest[0]["bytes"] == len(image["manifest"]), lines
    assert manifest[0]["user_agent"] == 'log-test "quoted" \\ /1.0', manifest[0]
    blob = [o for o in lines if o["path"].startswith(f"/v2/team/app/blobs/{digest_of(layer)}")]
    assert blob and blob[0]["bytes"] == len(layer), lines
    # A credential in the query is not shipped; nothing else in the target is changed.
    assert blob[0]["path"] == f"/v2/team/app/blobs/{digest_of(layer)}?ns=x&token=REDACTED", blob[0]
    assert "s3cr3t" not in berth.logs()
    puts = [o for o in lines if o["method"] == "PUT" and "/manifests/v1" in o["path"]]
    assert puts and puts[0]["status"] == 201 and puts[0]["bytes_received"] == len(image["manifest"]), lines
    odd = [o for o in lines if o["path"].startswith('/v2/a"b')][0]
    assert odd["path"] == hostile.decode("utf-8", "replace") and odd["status"] == 400, odd
    assert odd["user_agent"] == agent.decode("utf-8", "replace"), odd
    assert "cache" not in manifest[0], "a registry that is no mirror has no cache result"
    assert all(o["worker"] >= 0 for o in lines)

    # An upload cut mid-body: aborted, with the client's real address and what arrived, never a 202.
    client, path, sent = _abort_upload(berth, "team/app", reset=False)
    lines = _wait_for(berth, lambda ls: any(o["msg"] == "aborted" for o in ls), "the aborted upload")
    aborted = [o for o in lines if o["msg"] == "aborted"]
    assert len(aborted) == 1, aborted
    assert aborted[0]["method"] == "PATCH" and aborted[0]["path"] == path, aborted
    assert aborted[0]["client"] == client and aborted[0]["user_agent"] == "aborting-client/1.0", aborted
    assert aborted[0]["status"] == 499 and aborted[0]["aborted"] is True, aborted
    assert aborted[0]["bytes_received"] == sent, aborted
    assert not [o for o in lines if o["method"] == "PATCH" and o["status"] == 202 and o["path"] == path], lines

    client, path, _ = _abort_upload(berth, "team/app", reset=True)
    lines = _wait_for(berth, lambda ls: any(o["msg"] == "aborted" and o["path"] == path for o in ls), "the reset upload")
    reset = [o for o in lines if o["msg"] == "aborted" and o["path"] == path]
    assert reset[0]["client"] == client, reset


def test_json_access_lines_on_the_mirror_say_what_the_cache_did(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "src", "v1", nlayers=2)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, ttl="0s",
                                 extra="log: {formatter: json, level: info}\n")
    config.write_text(config.read_text().replace("log: {level: info}\n", ""))
    berth, _ = start_mirror(start_berth, tmp_path, config)

    pulled = pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path)
    assert pulled[0] == image["manifest"]
    lines = _wait_for(berth, lambda ls: any("/blobs/" in o["path"] for o in ls), "the pull")
    layer = digest_of(image["layers"][0])
    blob = f"{berth.base_url}/v2/team/app/blobs/{layer}"
    assert requests.get(blob, timeout=TIMEOUT).status_code == 200
    tag = f"{berth.base_url}/v2/team/app/manifests/v1"
    assert requests.get(tag, headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT).status_code == 200
    upstream.stop()
    assert requests.get(tag, headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT).status_code == 200

    lines = _wait_for(berth, lambda ls: sum(o["path"] == "/v2/team/app/manifests/v1" for o in ls) >= 3, "the stale tag")
    mirrored = [o for o in lines if "/manifests/" in o["path"] or "/blobs/" in o["path"]]
    assert mirrored and all(o.get("cache") in CACHE_RESULTS for o in mirrored), mirrored
    layer_lines = [o["cache"] for o in lines if o["path"] == f"/v2/team/app/blobs/{layer}" and o["method"] == "GET"]
    assert layer_lines[0] in ("miss", "coalesced") and layer_lines[-1] == "hit", layer_lines
    tags = [o["cache"] for o in lines if o["path"] == "/v2/team/app/manifests/v1" and o["method"] == "GET"]
    # First a miss (skopeo may ask twice), then with a TTL of 0 a re-validation, then stale once the upstream is gone.
    assert tags[0] == "miss" and "revalidated" in tags and tags[-1] == "stale", tags


def test_text_stays_the_default_and_keeps_its_access_format(start_berth, tmp_path):
    berth = start_berth()
    assert requests.get(f"{berth.base_url}/v2/", timeout=TIMEOUT).status_code == 200
    _, path, sent = _abort_upload(berth, "team/app", reset=False)
    deadline = time.monotonic() + 20
    while f'"PATCH {path}" aborted' not in berth.logs():
        assert time.monotonic() < deadline, berth.logs()
        time.sleep(0.05)
    access = [line for line in berth.logs().splitlines() if '"' in line and " info " in line]
    assert access and all(_TEXT_ACCESS.match(line) for line in access), access
    assert any(re.search(r' "GET /v2/" 200 2 \d+us$', line) for line in access), access
    assert any(line.endswith(f"after {sent} bytes received") for line in access), access
    assert not any(line.lstrip().startswith("{") for line in berth.logs().splitlines())


def test_an_unknown_log_formatter_is_refused_with_its_key(tmp_path):
    config = tmp_path / "bad.yml"
    config.write_text("log: {formatter: logstash}\n")
    result = subprocess.run([berth_binary(), "serve", "--config", str(config), "--root", str(tmp_path / "data"),
                             "--addr", "127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "log.formatter" in result.stderr, result


def test_an_online_gc_turn_that_finds_the_lock_held_logs_nothing_at_info(start_berth, tmp_path):
    """Every worker's timer fires; while another process holds the GC lock (the test, here) each turn is
    skipped, said at debug only; once the lock is free a sweep is logged at info."""
    root = tmp_path / "gc-root"
    lock_path = root / "docker" / "registry" / "v2" / ".berth-gc.lock"
    lock_path.parent.mkdir(parents=True)
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        berth = _start_json(start_berth, tmp_path, "debug", extra="gc: {interval: 1s, delay: 0s}\n", root=root,
                            env={"BERTH_WORKERS": "2"})
        deadline = time.monotonic() + 30
        while True:
            skipped = [o for o in _lines(berth) if o["msg"].startswith("gc: another process is sweeping")]
            if len(skipped) >= 4 and len({o["worker"] for o in skipped}) == 2:
                break
            assert time.monotonic() < deadline, f"no skipped GC turns from both workers at debug:\n{berth.logs()}"
            time.sleep(0.05)
        assert all(o["level"] == "debug" for o in skipped), skipped
        swept = [o for o in _lines(berth) if o["msg"].startswith("gc") and o["level"] != "debug"]
        assert not swept, f"a skipped GC turn was logged at info: {swept}"
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    deadline = time.monotonic() + 30
    while not [o for o in _lines(berth) if o["msg"].startswith("gc: ") and o["level"] == "info"]:
        assert time.monotonic() < deadline, f"no sweep was logged once the lock was free:\n{berth.logs()}"
        time.sleep(0.1)
