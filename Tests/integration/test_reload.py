"""SIGHUP reloads the configuration: the supervisor reads its --config file again and, if it loads, starts a new
generation of workers on the same listening sockets, then lets the old ones finish what they are doing. A file
that does not load, or that changes a key only a restart can change, leaves everything as it was."""
import hashlib
import os
import signal
import subprocess
import time

import pytest
import requests

from processes import children, wait_until_serving, worker_index
from regutil import OCI_MANIFEST, assert_error, connect, describe, digest_of, free_port, push_image, read_response

pytestmark = pytest.mark.berth_only  # SIGHUP and worker processes are Berth's own

MiB = 1 << 20
TIMEOUT = 60  # seconds, only against hangs


def _wait_for(condition, what, server, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert server.running, f"the server exited while waiting for {what}\n" + server.logs()[-6000:]
        time.sleep(0.05)
    pytest.fail(f"no {what} within {seconds} s\n" + server.logs()[-6000:])


def _config(path, upstream, ttl, mirrors=None):
    text = f"log: {{level: info}}\nproxy:\n  remoteurl: '{upstream.base_url}'\n  ttl: {ttl}\n"
    if mirrors:
        text += "mirrors:\n" + "".join(f"  {host}: '{url}'\n" for host, url in mirrors.items())
    path.write_text(text)


def _manifest(base, repo, ref, query=""):
    return requests.get(f"{base}/v2/{repo}/manifests/{ref}{query}", headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)


def _kraken(base, digest, suffix=""):
    return f"{base}/namespace/team%2Fmodels/blobs/{digest}{suffix}"


def _hang_up_and_wait_for_the_new_generation(server, generation):
    os.kill(server.pid, signal.SIGHUP)
    _wait_for(lambda: f"generation {generation} serving" in server.logs(), f"generation {generation} serving", server)


def test_sighup_during_a_chunked_upload_and_a_large_get_completes_both_and_puts_the_new_config_in_force(
        start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    first = push_image(upstream.base_url, "team/app", "latest")
    moved = push_image(upstream.base_url, "team/app", "next")
    tool = push_image(upstream.base_url, "org/tool", "v1")
    config = tmp_path / "reloaded.yml"
    # With a mirrors: map an ns= that no upstream answers to is 404 (with proxy.remoteurl alone, every ns= is served).
    _config(config, upstream, "1h", mirrors={"quay.io": upstream.base_url})
    # The file given last is the one read, the one SIGHUP reads again; flags (addr, root, workers) keep winning.
    server = start_berth("--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(tmp_path / "root"),
                         "--workers", "2", "--log-level", "debug")  # Berth-Worker is sent at debug
    base, hostport = server.base_url, server.host
    for index in (0, 1):
        assert wait_until_serving(base, index), f"worker {index} never answered\n" + server.logs()[-4000:]
    old_workers = set(children(server.pid))

    # Before: the tag is cached for an hour, and no upstream is named ghcr.io.
    assert _manifest(base, "team/app", "latest").headers.get("Docker-Content-Digest") == first["digest"]
    r = requests.put(f"{upstream.base_url}/v2/team/app/manifests/latest", data=moved["manifest"],
                     headers={"Content-Type": OCI_MANIFEST}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    r = _manifest(base, "team/app", "latest")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == first["digest"], describe(r)
    assert_error(_manifest(base, "org/tool", "v1", "?ns=ghcr.io"), (404,), "NAME_UNKNOWN", detail=True)

    # A large blob to read while the reload happens, and an upload whose second chunk is in flight meanwhile.
    large = os.urandom(48 * MiB)
    r = requests.post(_kraken(base, digest_of(large), "/uploads"), timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    upload = _kraken(base, digest_of(large), "/uploads/" + r.headers["Location"])
    assert requests.patch(upload, data=large, headers={"Content-Range": f"0-{len(large)}"}, timeout=TIMEOUT).status_code == 200
    assert requests.put(upload + "?through=false", timeout=TIMEOUT).status_code == 200
    blob = os.urandom(12 * MiB + 4321)
    chunks = [blob[:4 * MiB], blob[4 * MiB:8 * MiB], blob[8 * MiB:]]
    r = requests.post(_kraken(base, digest_of(blob), "/uploads"), timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    path = f"/namespace/team%2Fmodels/blobs/{digest_of(blob)}/uploads/{r.headers['Location']}"
    r = requests.patch(f"{base}{path}", data=chunks[0], headers={"Content-Range": f"0-{4 * MiB}"}, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)

    getting = connect(hostport)
    getting.sendall(f"GET /namespace/team%2Fmodels/blobs/{digest_of(large)} HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received or len(received) < MiB:
        part = getting.recv(65536)
        assert part, "the large GET ended before the reload"
        received += part
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    patching = connect(hostport)
    patching.sendall(f"PATCH {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Range: {4 * MiB}-{8 * MiB}\r\n"
                     f"Content-Length: {4 * MiB}\r\n\r\n".encode() + chunks[1][:MiB])

    _config(config, upstream, "0s", mirrors={"quay.io": upstream.base_url, "ghcr.io": upstream.base_url})
    _hang_up_and_wait_for_the_new_generation(server, 1)
    # The old workers have been told to drain (each logs it), with the two requests still in flight.
    _wait_for(lambda: server.logs().count("no longer accepting") >= 2, "old workers draining", server)

    patching.sendall(chunks[1][MiB:])
    answer = read_response(patching, "PATCH")
    assert answer.status == 200, answer
    patching.close()
    hasher, length = hashlib.sha256(body), len(body)
    while length < len(large):
        part = getting.recv(1 << 20)
        assert part, f"the large GET was cut at {length} of {len(large)} bytes\n" + server.logs()[-4000:]
        hasher.update(part)
        length += len(part)
    getting.close()
    assert length == len(large) and "sha256:" + hasher.hexdigest() == digest_of(large)

    # The upload goes on with the new workers and commits whole.
    r = requests.patch(f"{base}{path}", data=chunks[2], headers={"Content-Range": f"{8 * MiB}-{len(blob)}"}, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    r = requests.put(f"{base}{path}?through=false", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    r = requests.get(_kraken(base, digest_of(blob)), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob

    # After: ttl 0s re-validates the tag at once (the move is seen), and the new mirrors: entry answers.
    r = _manifest(base, "team/app", "latest")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == moved["digest"], describe(r)
    r = _manifest(base, "org/tool", "v1", "?ns=ghcr.io")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == tool["digest"], describe(r)

    # Only the new generation is left, both of its workers reachable; the supervisor is the same process.
    _wait_for(lambda: len(children(server.pid)) == 2 and not set(children(server.pid)) & old_workers,
              "the old workers' exit", server)
    for index in (0, 1):
        assert wait_until_serving(base, index), f"new worker {index} never answered\n" + server.logs()[-4000:]
    server.stop_cleanly()


class _Served:
    """Berth started by the test with only its own config file: the suite's BERTH_WORKERS would win over the
    file's `workers`, and flags over its addr and root, so neither is passed. Stopped with all its workers."""

    def __init__(self, config, port, log_path):
        self.config, self.port, self.log_path = config, port, log_path
        self.host = f"127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if k != "BERTH_WORKERS"}
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen([os.environ["BERTH_BIN"], "serve", "--config", str(config)], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    pid = property(lambda self: self.proc.pid)
    running = property(lambda self: self.proc.poll() is None)
    base_url = property(lambda self: f"http://{self.host}")

    def logs(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        workers = children(self.pid) if self.running else []
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.proc.returncode


@pytest.fixture
def served(tmp_path):
    started = []

    def start(config, port):
        server = _Served(config, port, tmp_path / f"berth{len(started)}.log")
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def test_a_config_that_does_not_load_on_sighup_leaves_the_old_one_serving(served, tmp_path):
    port = free_port()
    config = tmp_path / "served.yml"
    good = (f"http: {{addr: '127.0.0.1:{port}'}}\nstorage: {{filesystem: {{rootdirectory: '{tmp_path / 'root'}'}}}}\n"
            "workers: 2\nlog: {level: debug}\n")  # Berth-Worker is sent at debug
    config.write_text(good)
    server = served(config, port)
    base = server.base_url
    for index in (0, 1):
        assert wait_until_serving(base, index), f"worker {index} never answered\n" + server.logs()[-4000:]
    image = push_image(base, "keep/app", "v1")
    serving = (server.pid, tuple(children(server.pid)))

    refused = [
        (good + "proxy: {remoteurl: 'http://127.0.0.1:1', ttl: forever}\n", "proxy.ttl"),
        (good.replace(str(port), str(port + 1)), f"http.addr changed from 127.0.0.1:{port} to 127.0.0.1:{port + 1}"),
        (good.replace("'}}", "-elsewhere'}}"), "storage.filesystem.rootdirectory changed"),
        (good.replace("workers: 2", "workers: 3"), "workers changed from 2 to 3"),
        # Last, so that it is still the file when a worker is killed below.
        ("proxy: [remoteurl: oops\n", "not valid YAML"),
    ]
    for count, (text, reason) in enumerate(refused, 1):
        config.write_text(text)
        os.kill(server.pid, signal.SIGHUP)
        _wait_for(lambda: server.logs().count("configuration not reloaded") >= count, f"the refusal of {text!r}", server)
        line = [l for l in server.logs().splitlines() if "configuration not reloaded" in l][-1]
        assert reason in line, line
        assert (server.pid, tuple(children(server.pid))) == serving, "workers were replaced for a refused configuration"
        r = _manifest(base, "keep/app", "v1")
        assert r.status_code == 200 and r.content == image["manifest"], describe(r)
    assert str(config) in line and "/dev/shm" not in line, line  # the error names the file the operator edits

    # A worker that dies now starts again with the configuration its generation accepted, not the broken file.
    victim = next(pid for pid in children(server.pid) if worker_index(pid) == 0)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: [pid for pid in children(server.pid) if worker_index(pid) == 0 and pid != victim],
              "worker 0 replaced", server)
    assert wait_until_serving(base, 0), "the replaced worker never answered\n" + server.logs()[-4000:]
    assert _manifest(base, "keep/app", "v1").content == image["manifest"]

    # And a file that loads again is reloaded.
    config.write_text(good)
    _hang_up_and_wait_for_the_new_generation(server, 1)
    assert _manifest(base, "keep/app", "v1").content == image["manifest"]
    assert server.stop() == 0


def test_sighup_without_a_supervisor_keeps_the_single_process_serving(start_berth):
    """With workers: 1 there is no supervisor to start new workers: SIGHUP says so and changes nothing."""
    server = start_berth("--workers", "1")
    image = push_image(server.base_url, "single/app", "v1")
    os.kill(server.pid, signal.SIGHUP)
    _wait_for(lambda: "SIGHUP" in server.logs(), "the SIGHUP warning", server)
    assert server.running and not children(server.pid)
    assert _manifest(server.base_url, "single/app", "v1").content == image["manifest"]
    server.stop_cleanly()
