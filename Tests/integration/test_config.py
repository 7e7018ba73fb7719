"""Configuration and CLI of the real binary: registry:2 configs start Berth, errors name the key and file,
environment variables and flags override the file."""
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

pytestmark = pytest.mark.berth_only  # Berth's own CLI and configuration


def _binary():
    path = os.environ.get("BERTH_BIN")
    if not path:
        pytest.fail("BERTH_BIN must name the berth binary (make test sets it)", pytrace=False)
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(args, env=None, tmp_path=None):
    log = open(tmp_path / "berth.log", "wb")
    proc = subprocess.Popen([_binary(), "serve", *args], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    return proc


def _wait_ready(proc, url, log_path):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "berth exited: " + log_path.read_text()
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    pytest.fail("berth never answered: " + log_path.read_text())


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_registry2_config_starts_berth_with_a_warning_per_ignored_key(tmp_path):
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text(f"""version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {tmp_path / 'data'}
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
""")
    proc = _serve(["--config", str(config)], tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/v2/", tmp_path / "berth.log")
    finally:
        _stop(proc)
    log = (tmp_path / "berth.log").read_text()
    for key in ("log.fields", "storage.cache", "http.headers", "health"):
        assert f"ignoring {key}" in log, log
    assert (tmp_path / "data" / "docker" / "registry" / "v2").is_dir()


def test_environment_overrides_the_file_and_flags_override_the_environment(tmp_path):
    file_port, env_port, flag_port = _free_port(), _free_port(), _free_port()
    config = tmp_path / "berth.yml"
    config.write_text(f"http:\n  addr: 127.0.0.1:{file_port}\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'a'}\n")
    proc = _serve(["--config", str(config)], env={"BERTH_HTTP_ADDR": f"127.0.0.1:{env_port}"}, tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{env_port}/v2/", tmp_path / "berth.log")
    finally:
        _stop(proc)
    proc = _serve(["--config", str(config), "--addr", f"127.0.0.1:{flag_port}"],
                  env={"BERTH_HTTP_ADDR": f"127.0.0.1:{env_port}"}, tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{flag_port}/v2/", tmp_path / "berth.log")
    finally:
        _stop(proc)


@pytest.mark.parametrize("text,key", [
    ("storage:\n  delete:\n    enabled: maybe\n", "storage.delete.enabled"),
    ("storage:\n  filesystem:\n    directwrites: sometimes\n", "storage.filesystem.directwrites"),
    ("log:\n  level: loud\n", "log.level"),
    ("http:\n  addr: [1, 2]\n", "http.addr"),
    ("http:\n  addr: nowhere\n", "http.addr"),
    ("proxy:\n  remoteurl: ftp://example.com\n", "proxy.remoteurl"),
    ("proxy:\n  remoteurl: http://127.0.0.1:1\n  ttl: soon\n", "proxy.ttl"),
    ("proxy:\n  remoteurl: http://127.0.0.1:1\n  cache:\n    maxsize: lots\n", "proxy.cache.maxsize"),
    ("mirrors:\n  ghcr.io: ghcr.io\n", "mirrors.ghcr.io"),
    ("kraken:\n  namespaces:\n    - pattern: '.*'\n      backend: registry\n", "kraken.namespaces[0].url"),
    ("kraken:\n  namespaces:\n    - pattern: '.*'\n      backend: registry\n      url: http://127.0.0.1:1\n"
     "      repository: Not/Valid\n", "kraken.namespaces[0].repository"),
])
def test_a_bad_value_names_the_key_and_the_file_and_exits_non_zero(tmp_path, text, key):
    config = tmp_path / "bad.yml"
    config.write_text(text)
    result = subprocess.run([_binary(), "serve", "--config", str(config), "--root", str(tmp_path / "data")],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert key in output, output
    assert str(config) in output, output


def test_invalid_yaml_is_refused_with_the_file_name(tmp_path):
    config = tmp_path / "broken.yml"
    config.write_text("http: [unclosed\n")
    result = subprocess.run([_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert str(config) in result.stderr


def test_unwritable_storage_root_fails_at_start_with_a_clear_message(tmp_path):
    root = tmp_path / "ro"
    root.mkdir()
    blocker = root / "docker"
    blocker.write_text("a file where a directory must be")
    result = subprocess.run([_binary(), "serve", "--addr", f"127.0.0.1:{_free_port()}", "--root", str(root)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "storage.filesystem.rootdirectory" in result.stderr


def test_version_and_help():
    result = subprocess.run([_binary(), "version"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and result.stdout.startswith("berth ")
    result = subprocess.run([_binary(), "--help"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and "serve" in result.stdout


def test_sigterm_lets_an_in_flight_upload_finish(tmp_path):
    """A request that is mid-body when SIGTERM arrives still gets its answer; then the process exits 0."""
    port = _free_port()
    proc = _serve(["--addr", f"127.0.0.1:{port}", "--root", str(tmp_path / "data")], tmp_path=tmp_path)
    _wait_ready(proc, f"http://127.0.0.1:{port}/v2/", tmp_path / "berth.log")
    import hashlib
    body = os.urandom(4 << 20)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /v2/drain/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    sock.sendall(body[len(body) // 2:])
    sock.settimeout(10)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 201 "), answer
    assert proc.wait(timeout=10) == 0
