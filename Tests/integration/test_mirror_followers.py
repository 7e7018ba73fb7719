"""The clients that follow one cold download (issue 19): a slow one and a fast one both get the right bytes (from a
plain upstream and a TLS one), one that stops reading is cut after the progress window (`http.progresswindow`) while
the others complete, a download whose upstream dies mid-body cuts every one of them short and leaves nothing cached,
and one whose upstream sends other bytes of the right length cuts them all before the last byte. With
BERTH_DOWNLOAD_TRACE a download writes its per-buffer timestamps (bench/mirrorbench/trace.py reads them).

The dying upstream is a small HTTP server in a subprocess (`_HALF_UPSTREAM`): it answers a blob GET with the whole
Content-Length, sends the first half, then waits to be killed by PID. Timeouts only guard against hangs.
"""
import hashlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from mirrorutil import (MiB, TIMEOUT, TLSReference, blob_path, downloads_path, make_ca_and_server_cert, run_together, settled_count,
                        sha256_stream, start_mirror, start_registry_object, write_mirror_config)
from regutil import describe, digest_of, free_port, push_blob

pytestmark = pytest.mark.berth_only  # the mirror is Berth's
# http.progresswindow of the stalled-follower test, in seconds (120 by default): long beside the readers' 256 MiB (a
# few seconds even on a loaded machine), so that a download held back by the follower that stopped would show.
WINDOW = 15
STALL_WAIT = 60  # seconds: only a bound on waiting for the stalled follower to be cut, never a duration asserted

# argv: port, blob file, log file, mode ("half": send half the body, then hang until killed; "full"; "wrong": all but
# the last byte, then, once the file <log file>.go exists, the last byte changed, and hang until killed: only the
# digest can tell; "chunked": the whole body in chunks of odd sizes, with no Content-Length), digest.
_HALF_UPSTREAM = r'''
import http.server, sys, time
port, blob_file, log_file, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
blob = open(blob_file, "rb").read()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def _answer(self, body):
        with open(log_file, "a") as log:
            log.write(f"{self.command} {self.path}\n")
        if self.path == "/v2/" or self.path.startswith("/v2/test/blob/blobs/sha256:"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode == "chunked" and self.path != "/v2/":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(blob) if self.path != "/v2/" else 2))
            self.send_header("Docker-Content-Digest", sys.argv[5])
            self.end_headers()
            if not body:
                return
            if self.path == "/v2/":
                self.wfile.write(b"{}")
            elif mode == "chunked":
                for at in range(0, len(blob), 100003):
                    part = blob[at:at + 100003]
                    self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif mode == "half":
                self.wfile.write(blob[:len(blob) // 2])
                self.wfile.flush()
                time.sleep(3600)
            elif mode == "wrong":
                self.wfile.write(blob[:-1])
                self.wfile.flush()
                for _ in range(60000):
                    try:
                        open(log_file + ".go").close()
                        break
                    except OSError:
                        time.sleep(0.01)
                self.wfile.write(bytes([blob[-1] ^ 1]))
                self.wfile.flush()
                time.sleep(3600)
            else:
                self.wfile.write(blob)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
    def do_GET(self):
        self._answer(True)
    def do_HEAD(self):
        self._answer(False)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


def _start_half_upstream(tmp_path, port, blob_file, digest, mode):
    script = tmp_path / "half_upstream.py"
    script.write_text(_HALF_UPSTREAM)
    log = tmp_path / "half_upstream.log"
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(blob_file), str(log), mode, digest])
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=5).status_code == 200:
                return proc, log
        except requests.ConnectionError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the test upstream did not start"
        time.sleep(0.05)


def wait_until_reset(sock, seconds):
    """True when the peer has closed or reset the connection (seen without reading a byte), False after `seconds`."""
    poller = select.poll()
    poller.register(sock, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    return any(event & (select.POLLERR | select.POLLHUP | select.POLLRDHUP) for _, event in poller.poll(seconds * 1000))


def _blob_gets(log, digest):
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return sum(1 for line in f if line.strip() == f"GET /v2/test/blob/blobs/{digest}")


def _kill(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(TIMEOUT)




def _a_slow_and_a_fast_follower_get_the_right_bytes(start_berth, tmp_path, upstream, cafile=None, session=requests):
    size = 64 * MiB
    blob = os.urandom(size)
    digest = digest_of(blob)
    assert push_blob(upstream.base_url, "test/blob", blob, session=session) == digest
    del blob
    berth, root = start_mirror(start_berth, tmp_path,
                               write_mirror_config(tmp_path, remoteurl=upstream.base_url, cafile=cafile))
    url = f"{berth.base_url}/v2/test/blob/blobs/{digest}"

    def fast():
        with requests.get(url, stream=True, timeout=TIMEOUT) as r:
            return {"status": r.status_code, "body": sha256_stream(r)}

    def slow():
        with requests.get(url, stream=True, timeout=TIMEOUT) as r:
            h, n = hashlib.sha256(), 0
            for part in r.iter_content(256 * 1024):
                h.update(part)
                n += len(part)
                time.sleep(0.01)  # about 25 MiB/s: far behind the fast one
            return {"status": r.status_code, "body": (h.hexdigest(), n)}

    results = run_together(2, lambda i: (fast, slow)[i]())
    for name, res in zip(["fast", "slow"], results):
        assert res.get("status") == 200 and res.get("body") == (digest[7:], size), f"{name} follower: {res}"
    assert settled_count(upstream, "GET", f"/v2/test/blob/blobs/{digest}") == 1
    assert os.path.getsize(blob_path(root, digest)) == size


def test_a_slow_and_a_fast_follower_of_one_cold_download_both_get_the_right_bytes(start_registry, start_berth,
                                                                                  tmp_path):
    upstream = start_registry("reference", label="upstream")
    _a_slow_and_a_fast_follower_get_the_right_bytes(start_berth, tmp_path, upstream)


def test_a_slow_and_a_fast_follower_of_one_cold_download_over_tls_both_get_the_right_bytes(request, start_berth,
                                                                                           tmp_path):
    certs = make_ca_and_server_cert(tmp_path / "pki")
    upstream = start_registry_object(request, TLSReference(tmp_path / "upstream", certs=certs))
    _a_slow_and_a_fast_follower_get_the_right_bytes(start_berth, tmp_path, upstream, cafile=certs["ca"],
                                                    session=upstream.session())


def _worker_pids(berth):
    """The worker processes (children of the berth PID), or the berth PID itself when it has none."""
    children = subprocess.run(["pgrep", "-P", str(berth.pid)], capture_output=True, text=True).stdout.split()
    return sorted(int(p) for p in children) or [berth.pid]


def _drain_until_closed(sock, wait):
    """Reads what the socket still holds until the peer's close (b"" or a reset): (bytes read, their first 64), or
    None when it is still open after `wait` seconds."""
    sock.settimeout(wait)
    received, start = 0, b""
    try:
        while True:
            part = sock.recv(1 << 20)
            if not part:
                return received, start
            start = (start + part)[:64]
            received += len(part)
    except ConnectionResetError:
        return received, start
    except socket.timeout:
        return None


def test_a_follower_that_stops_reading_is_cut_after_the_progress_window_while_the_others_complete(
        start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    size = 256 * MiB  # far more than the socket buffers of both ends hold
    blob = os.urandom(size)
    digest = digest_of(blob)
    assert push_blob(upstream.base_url, "test/blob", blob) == digest
    del blob
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, extra=f"http:\n  progresswindow: {WINDOW}s\n")
    berth, root = start_mirror(start_berth, tmp_path, config)
    workers = _worker_pids(berth)
    path = f"/v2/test/blob/blobs/{digest}"

    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # Berth's send buffer fills, then it must wait
    stalled.connect(("127.0.0.1", berth.port))
    with stalled:
        stalled.sendall(f"GET {path} HTTP/1.1\r\nHost: {berth.host}\r\n\r\n".encode())  # and never reads

        def reader(_):
            with requests.get(berth.base_url + path, stream=True, timeout=TIMEOUT) as r:
                return {"status": r.status_code, "body": sha256_stream(r)}

        results = run_together(3, reader)
        for i, res in enumerate(results):
            assert res.get("status") == 200 and res.get("body") == (digest[7:], size), f"reader {i}: {res}"
        # The readers did not wait for the stalled one to be cut: the download went on without it.
        assert not wait_until_reset(stalled, 0), "the stalled follower was cut before the readers were done"
        assert wait_until_reset(stalled, STALL_WAIT), f"the stalled follower is still connected after {STALL_WAIT} s"
        drained = _drain_until_closed(stalled, STALL_WAIT)
        assert drained is not None, "the stalled follower's connection reported a hang-up but did not end"
        received, start = drained
        assert start.startswith(b"HTTP/1.1 200 "), f"the stalled follower was not answered 200: {start!r}"
        assert received < size, f"the stalled follower was sent the whole blob ({received} bytes) without reading it"
        print(f"the stalled follower had {received} bytes waiting in its socket when it was cut")

    # One download for all four, cached whole; the same workers are serving.
    assert settled_count(upstream, "GET", path) == 1
    assert os.path.getsize(blob_path(root, digest)) == size
    assert _worker_pids(berth) == workers and berth.running, "a worker died"
    with requests.get(berth.base_url + path, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, describe(r)
        assert sha256_stream(r) == (digest[7:], size)


def test_an_upstream_dying_mid_body_cuts_every_follower_short_and_caches_nothing(start_berth, tmp_path):
    size = 32 * MiB
    blob = os.urandom(size)
    digest = digest_of(blob)
    blob_file = tmp_path / "blob"
    blob_file.write_bytes(blob)
    del blob
    port = free_port()
    dying, log = _start_half_upstream(tmp_path, port, blob_file, digest, "half")
    try:
        berth, root = start_mirror(start_berth, tmp_path,
                                   write_mirror_config(tmp_path, remoteurl=f"http://127.0.0.1:{port}"))
        url = f"{berth.base_url}/v2/test/blob/blobs/{digest}"
        started = threading.Barrier(3)

        def follower():
            n, announced = 0, None
            try:
                with requests.get(url, stream=True, timeout=TIMEOUT) as r:
                    if r.status_code != 200:
                        return {"status": r.status_code, "body": describe(r)}
                    announced = int(r.headers["Content-Length"])
                    parts = r.iter_content(64 * 1024)
                    n += len(next(parts))
                    started.wait(timeout=TIMEOUT)
                    for part in parts:
                        n += len(part)
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as e:
                return {"status": 200, "length": announced, "received": n, "cut": repr(e)}
            return {"status": 200, "length": announced, "received": n, "cut": None}

        threads_results = [None, None]

        def run(i):
            threads_results[i] = follower()

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        started.wait(timeout=TIMEOUT)  # both followers have bytes of the download: the upstream dies now
        _kill(dying)
        for t in threads:
            t.join(3 * TIMEOUT)
        for res in threads_results:
            assert res and res["status"] == 200 and res["length"] == size, res
            assert res["received"] < size, f"a follower was sent the whole length of a download that failed: {res}"
        assert _blob_gets(log, digest) == 1
        assert not os.path.exists(blob_path(root, digest)), "a blob that was never verified is in the cache"
        downloads = downloads_path(root)
        deadline = time.monotonic() + TIMEOUT
        while os.path.isdir(downloads) and os.listdir(downloads) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (os.path.isdir(downloads) and os.listdir(downloads)), os.listdir(downloads)

        # The upstream is back, whole: the next GET downloads again and is right.
        back, _ = _start_half_upstream(tmp_path, port, blob_file, digest, "full")
        try:
            with requests.get(url, stream=True, timeout=TIMEOUT) as r:
                assert r.status_code == 200, describe(r)
                assert sha256_stream(r) == (digest[7:], size)
            assert _blob_gets(log, digest) == 2
            assert os.path.getsize(blob_path(root, digest)) == size
        finally:
            _kill(back)
    finally:
        _kill(dying)


def _recv_exactly(sock, count):
    """`count` bytes from a blocking socket, or fewer when the peer ends first."""
    parts, received = [], 0
    while received < count:
        part = sock.recv(min(1 << 20, count - received))
        if not part:
            break
        parts.append(part)
        received += len(part)
    return b"".join(parts)


def _evict_from_page_cache(path, size, allowed):
    """Writes the file's dirty pages back and drops them from the page cache, until fincore says at most `allowed`
    bytes are left (the pages a socket buffer still holds cannot go; bounded): the test is only worth something
    when the follower's next bytes must come from the disk."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, size, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        resident = int(subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                                      capture_output=True, text=True, check=True).stdout.split()[0])
        if resident <= allowed:
            return
        assert time.monotonic() < deadline, f"{resident} bytes of {path} stay in the page cache"
        time.sleep(0.1)


def test_a_follower_whose_next_bytes_left_the_page_cache_is_sent_them_right(start_berth, tmp_path):
    # The upstream sends the first half and hangs, so the partial file stays while the follower catches up.
    size = 64 * MiB
    blob = os.urandom(size)
    digest = digest_of(blob)
    blob_file = tmp_path / "blob"
    blob_file.write_bytes(blob)
    half = size // 2
    port = free_port()
    hanging, _ = _start_half_upstream(tmp_path, port, blob_file, digest, "half")
    try:
        berth, root = start_mirror(start_berth, tmp_path,
                                   write_mirror_config(tmp_path, remoteurl=f"http://127.0.0.1:{port}"))
        workers = _worker_pids(berth)
        follower = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        follower.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        follower.settimeout(TIMEOUT)
        follower.connect(("127.0.0.1", berth.port))
        with follower:
            follower.sendall(f"GET /v2/test/blob/blobs/{digest} HTTP/1.1\r\nHost: {berth.host}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                part = follower.recv(1)
                assert part, "no answer"
                head += part
            assert head.startswith(b"HTTP/1.1 200 "), head
            first = _recv_exactly(follower, MiB)  # then the follower stops reading
            downloads = downloads_path(root)
            partial = None
            deadline = time.monotonic() + TIMEOUT
            while partial is None or os.path.getsize(partial) < half:
                assert time.monotonic() < deadline, f"the download did not get the upstream's first half: {partial and os.path.getsize(partial)}"
                names = [n for n in os.listdir(downloads) if n.endswith(".partial")] if os.path.isdir(downloads) else []
                partial = os.path.join(downloads, names[0]) if names else None
                time.sleep(0.05)
            # Left in the page cache: what Berth's send buffer holds for the follower (a few MiB on loopback).
            _evict_from_page_cache(partial, size, allowed=8 * MiB)
            rest = _recv_exactly(follower, half - MiB)
            assert first + rest == blob[:half], "the follower was sent other bytes than the upstream's"
        assert _worker_pids(berth) == workers and berth.running, "a worker died"
    finally:
        _kill(hanging)


def test_an_upstream_sending_other_bytes_of_the_right_length_cuts_every_follower_before_the_last_byte(start_berth,
                                                                                                     tmp_path):
    # The last byte is changed: only the digest, checked before the last byte goes out, tells the download is wrong.
    # It is sent once both followers have bytes of the download, so both are following it when it fails.
    size = 16 * MiB
    blob = os.urandom(size)
    digest = digest_of(blob)
    blob_file = tmp_path / "blob"
    blob_file.write_bytes(blob)
    port = free_port()
    wrong, log = _start_half_upstream(tmp_path, port, blob_file, digest, "wrong")
    try:
        berth, root = start_mirror(start_berth, tmp_path,
                                   write_mirror_config(tmp_path, remoteurl=f"http://127.0.0.1:{port}"))
        url = f"{berth.base_url}/v2/test/blob/blobs/{digest}"
        following = threading.Barrier(3)

        def follower(_):
            received = bytearray()
            try:
                with requests.get(url, stream=True, timeout=TIMEOUT) as r:
                    if r.status_code != 200:
                        following.abort()
                        return {"status": r.status_code, "body": describe(r)}
                    parts = r.iter_content(64 * 1024)
                    received += next(parts)
                    following.wait(timeout=TIMEOUT)
                    for part in parts:
                        received += part
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as e:
                return {"status": 200, "received": bytes(received), "cut": repr(e)}
            return {"status": 200, "received": bytes(received), "cut": None}

        def last_byte():
            following.wait(timeout=TIMEOUT)
            open(str(log) + ".go", "w").close()

        releaser = threading.Thread(target=last_byte, daemon=True)
        releaser.start()
        results = run_together(2, follower)
        releaser.join(TIMEOUT)
        for i, res in enumerate(results):
            assert res.get("status") == 200, f"follower {i}: {res}"
            got = res["received"]
            assert res["cut"] and len(got) < size, f"follower {i} was sent all {len(got)} bytes of a wrong download"
            assert got == blob[:len(got)], f"follower {i} was sent other bytes than the upstream's"
        assert _blob_gets(log, digest) == 1
        assert not os.path.exists(blob_path(root, digest)), "a blob whose digest is wrong is in the cache"
        downloads = downloads_path(root)
        deadline = time.monotonic() + TIMEOUT
        while os.path.isdir(downloads) and os.listdir(downloads) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (os.path.isdir(downloads) and os.listdir(downloads)), os.listdir(downloads)
        assert "the upstream sent content with digest" in berth.logs()
    finally:
        _kill(wrong)


def test_a_chunked_upstream_body_larger_than_the_download_buffer_reaches_two_followers_whole_and_is_cached(
        start_berth, tmp_path):
    # Chunk framing keeps the body from landing where the download offered to receive it, so it is copied into the
    # download's ring buffer (8 MiB), in two pieces where it wraps around: 24 MiB wraps it three times.
    size = 24 * MiB
    blob = os.urandom(size)
    digest = digest_of(blob)
    blob_file = tmp_path / "blob"
    blob_file.write_bytes(blob)
    port = free_port()
    chunked, log = _start_half_upstream(tmp_path, port, blob_file, digest, "chunked")
    try:
        berth, root = start_mirror(start_berth, tmp_path,
                                   write_mirror_config(tmp_path, remoteurl=f"http://127.0.0.1:{port}"))
        url = f"{berth.base_url}/v2/test/blob/blobs/{digest}"

        def follower(_):
            with requests.get(url, stream=True, timeout=TIMEOUT) as r:
                return r.status_code, sha256_stream(r) if r.status_code == 200 else describe(r)

        for i, res in enumerate(run_together(2, follower)):
            assert isinstance(res, tuple), f"follower {i}: {res}"
            status, got = res
            assert status == 200, f"follower {i}: {got}"
            assert got == (digest[7:], size), f"follower {i} got other bytes"
        assert _blob_gets(log, digest) == 1
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(blob_path(root, digest)):
            assert time.monotonic() < deadline, "the verified blob is not in the cache"
            time.sleep(0.05)
        with open(blob_path(root, digest), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest[7:]
    finally:
        _kill(chunked)


def test_a_download_traced_with_berth_download_trace_writes_its_buffers_timestamps(start_registry, start_berth,
                                                                                  tmp_path):
    upstream = start_registry("reference", label="upstream")
    size = 16 * MiB
    blob = os.urandom(size)
    digest = digest_of(blob)
    assert push_blob(upstream.base_url, "test/blob", blob) == digest
    del blob
    traces = tmp_path / "traces"
    traces.mkdir()
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    berth = start_berth("--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(tmp_path / "root"),
                        env={"BERTH_DOWNLOAD_TRACE": str(traces)})
    with requests.get(f"{berth.base_url}/v2/test/blob/blobs/{digest}", stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, describe(r)
        assert sha256_stream(r) == (digest[7:], size)
    trace = traces / f"{digest[7:]}.trace"
    deadline = time.monotonic() + TIMEOUT
    while not trace.exists():  # written once the download has ended, which the last byte waits for
        assert time.monotonic() < deadline, f"no trace in {traces}: {os.listdir(traces)}"
        time.sleep(0.05)
    events = [line.split() for line in trace.read_text().splitlines()]
    times = [int(at) for at, _, _ in events]
    assert times == sorted(times) and times[0] == 0, "the events are not in time order from the first"
    kinds = {kind for _, kind, _ in events}
    assert {"read", "hashStart", "hashEnd", "writeStart", "writeEnd"} <= kinds, kinds
    assert events[-1][1] == "verified", events[-3:]
    assert sum(int(n) for _, kind, n in events if kind == "read") == size
    # The pieces of the hashing thread, and of the writing one, cover every byte once.
    for kind in ("hashStart", "hashEnd", "writeStart", "writeEnd"):
        assert sum(int(n) for _, k, n in events if k == kind) == size, kind
