"""Configuration and CLI of the real binary: registry:2 configs start Berth, errors name the key and file,
environment variables and flags override the file."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from regutil import digest_of, free_port, wait_for

pytestmark = pytest.mark.berth_only  # Berth's own CLI and configuration


def _binary():
    path = os.environ.get("BERTH_BIN")
    if not path:
        pytest.fail("BERTH_BIN must name the berth binary (make test sets it)", pytrace=False)
    return path


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
    port = free_port()
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
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
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
    result = subprocess.run([_binary(), "serve", "--addr", f"127.0.0.1:{free_port()}", "--root", str(root)],
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
    port = free_port()
    proc = _serve(["--addr", f"127.0.0.1:{port}", "--root", str(tmp_path / "data")], tmp_path=tmp_path)
    _wait_ready(proc, f"http://127.0.0.1:{port}/v2/", tmp_path / "berth.log")
    body = os.urandom(4 << 20)
    digest = digest_of(body)
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /v2/drain/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    uploads = tmp_path / "data" / "docker" / "registry" / "v2" / "repositories" / "drain" / "_uploads"
    wait_for(lambda: any(f.name == "data" and f.stat().st_size > 0 for f in uploads.glob("*/data")),
             "the upload's first bytes on disk")
    proc.send_signal(signal.SIGTERM)
    log = tmp_path / "berth.log"
    wait_for(lambda: re.search(r"no longer accepting; [1-9]\d* connection\(s\) finishing", log.read_text()),
             "the worker holding the upload draining")
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


def _refused(tmp_path, args, env=None):
    """Runs `berth serve` on a free port that must stay closed; returns (exit status, output)."""
    port = free_port()
    result = subprocess.run([_binary(), "serve", "--addr", f"127.0.0.1:{port}", "--root", str(tmp_path / "data"), *args],
                            capture_output=True, text=True, timeout=20, env={**os.environ, **(env or {})})
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something listens on the port of a refused config"
    return result.returncode, result.stdout + result.stderr


def test_registry2_config_asking_for_token_auth_with_an_unreadable_bundle_is_refused_naming_the_key(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("""version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  tls:
    certificate: /certs/domain.crt
    key: /certs/domain.key
auth:
  token:
    realm: https://auth.example/token
    service: registry
    issuer: me
    rootcertbundle: /certs/bundle.pem
""")
    status, output = _refused(tmp_path, ["--config", str(config)])
    assert status != 0, output
    assert f"{config}: auth.token.rootcertbundle /certs/bundle.pem: cannot be read" in output, output
    # http.tls itself is served now (test_tls_server.py); its files are read only after the refusals.
    assert not (tmp_path / "data").exists(), "a refused config must not create the storage root"


@pytest.mark.parametrize("section,key", [
    ("auth:\n  ldap:\n    url: ldap://x\n", "auth.ldap"),
    ("auth:\n  silly:\n    realm: https://x\n    service: registry\n", "auth.silly"),
    ("http:\n  tls:\n    letsencrypt:\n      cachefile: /le.json\n      email: a@example.com\n", "http.tls.letsencrypt"),
    ("http:\n  tls:\n    clientcas: [/ca.pem]\n", "http.tls"),
    ("storage:\n  redirect:\n    disable: false\n", "storage.redirect"),
    ("storage:\n  maintenance:\n    readonly:\n      enabled: true\n", "storage.maintenance.readonly"),
    ("middleware:\n  storage:\n    - name: cloudfront\n      options: {baseurl: https://x.cloudfront.net/}\n",
     "middleware.storage"),
    ("middleware:\n  registry:\n    - name: redirect\n      options: {baseurl: https://example.com/}\n",
     "middleware.registry"),
    ("http:\n  net: unix\n  addr: /run/registry.sock\n", "http.net"),
    ("http:\n  prefix: /registry/\n", "http.prefix"),
    ("validation:\n  manifests:\n    urls:\n      allow: ['^https?://([^/]+\\.)*example\\.com/']\n",
     "validation.manifests.urls"),
    ("policy:\n  repository:\n    classes: [image]\n", "policy.repository"),
    ("proxy:\n  remoteurl: https://registry-1.docker.io\n  exec:\n    command: docker-credential-helper\n", "proxy.exec"),
])
def test_each_registry2_security_or_routing_key_berth_lacks_is_refused(tmp_path, section, key):
    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\n" + section)
    status, output = _refused(tmp_path, ["--config", str(config)])
    assert status != 0, output
    assert f"{config}: {key}: Berth" in output, output


@pytest.mark.parametrize("driver", ["s3", "azure", "gcs", "swift", "oss", "inmemory"])
def test_a_storage_driver_other_than_filesystem_is_refused(tmp_path, driver):
    config = tmp_path / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  {driver}:\n    bucket: images\n  delete:\n    enabled: true\n")
    status, output = _refused(tmp_path, ["--config", str(config)])
    assert status != 0, output
    assert f"{config}: storage.{driver}:" in output and "storage.filesystem" in output, output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("variable,value,key", [
    ("REGISTRY_AUTH_LDAP_URL", "ldap://x", "auth.ldap"),
    ("REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL", "a@example.com", "http.tls.letsencrypt"),
    ("REGISTRY_STORAGE", "s3", "storage"),
    ("REGISTRY_STORAGE_S3_BUCKET", "images", "storage.s3"),
    ("REGISTRY_MIDDLEWARE_STORAGE", "cloudfront", "middleware.storage"),
    ("BERTH_AUTH_SILLY_ISSUER", "me", "auth.silly"),
])
def test_an_environment_variable_asking_for_what_berth_lacks_is_refused(tmp_path, variable, value, key):
    status, output = _refused(tmp_path, [], env={variable: value})
    assert status != 0, output
    assert f"environment {variable}: {key}:" in output, output


@pytest.mark.parametrize("variable,value,missing", [
    ("REGISTRY_AUTH_TOKEN_SERVICE", "registry", "auth.token.realm, auth.token.issuer, auth.token.rootcertbundle"),
    ("REGISTRY_AUTH_TOKEN_REALM", "https://auth.example/token", "auth.token.service, auth.token.issuer, auth.token.rootcertbundle"),
    ("BERTH_AUTH_TOKEN_ISSUER", "me", "auth.token.realm, auth.token.service, auth.token.rootcertbundle"),
])
def test_one_auth_token_variable_alone_is_refused_naming_the_keys_it_lacks(tmp_path, variable, value, missing):
    status, output = _refused(tmp_path, [], env={variable: value})
    assert status != 0, output
    assert f"{missing} not set" in output, output


def test_registry2_environment_names_are_read_and_berth_names_win(tmp_path):
    """REGISTRY_HTTP_ADDR is honoured as registry:2 does; BERTH_HTTP_ADDR overrides it; REGISTRY_AUTH_FILE
    (podman's and skopeo's credentials file) is not taken as an authentication method."""
    registry_port, berth_port = free_port(), free_port()
    root = tmp_path / "data"
    env = {"REGISTRY_HTTP_ADDR": f"127.0.0.1:{registry_port}", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(root),
           "REGISTRY_STORAGE_DELETE_ENABLED": "true", "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}
    proc = _serve([], env=env, tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{registry_port}/v2/", tmp_path / "berth.log")
        assert (root / "docker" / "registry" / "v2").is_dir()
        # delete.enabled came from REGISTRY_STORAGE_DELETE_ENABLED: an unknown manifest is 404, not 405.
        gone = requests.delete(f"http://127.0.0.1:{registry_port}/v2/a/manifests/sha256:{'0' * 64}", timeout=5)
        assert gone.status_code == 404, gone.text
    finally:
        _stop(proc)
    proc = _serve([], env={**env, "BERTH_HTTP_ADDR": f"127.0.0.1:{berth_port}"}, tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{berth_port}/v2/", tmp_path / "berth.log")
    finally:
        _stop(proc)


@pytest.mark.parametrize("section", [
    "storage:\n  redirect:\n    disable: true\n",
    "auth:\n",
    "http:\n  tls:\n    certificate: ''\n    key: ''\n",
    "storage:\n  maintenance:\n    readonly:\n      enabled: false\n",
])
def test_a_key_that_asks_for_nothing_berth_lacks_starts(tmp_path, section):
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(f"version: 0.1\nhttp:\n  addr: 127.0.0.1:{port}\n" + section.replace("http:\n", ""))
    if section.startswith("http:"):
        config.write_text(f"version: 0.1\nhttp:\n  addr: 127.0.0.1:{port}\n" + section[len("http:\n"):])
    proc = _serve(["--config", str(config), "--root", str(tmp_path / "data")], tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/v2/", tmp_path / "berth.log")
    finally:
        _stop(proc)


def test_tuning_keys_start_with_one_warning_each(tmp_path):
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(f"""version: 0.1
http:
  addr: 127.0.0.1:{port}
  secret: a-shared-secret
notifications:
  endpoints:
    - name: alistener
      url: https://listener.example.com/event
redis:
  addr: localhost:6379
reporting:
  bugsnag:
    apikey: x
log:
  fields:
    service: registry
""")
    proc = _serve(["--config", str(config), "--root", str(tmp_path / "data")], tmp_path=tmp_path)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/v2/", tmp_path / "berth.log")
    finally:
        _stop(proc)
    log = (tmp_path / "berth.log").read_text()
    for key in ("notifications", "redis", "reporting", "log.fields", "http.secret"):
        assert f"ignoring {key}" in log, log


@pytest.mark.parametrize("text,key", [
    ("gc:\n  interval: 1e30\n", "gc.interval"),
    ("gc:\n  interval: .inf\n", "gc.interval"),
    ("gc:\n  delay: -5\n", "gc.delay"),
    ("uploads:\n  maxage: 99999999999999999999h\n", "uploads.maxage"),
    ("proxy:\n  remoteurl: http://127.0.0.1:1\n  cache:\n    maxsize: 1e30TB\n", "proxy.cache.maxsize"),
    ("proxy:\n  remoteurl: http://127.0.0.1:1\n  cache:\n    maxsize: 99999999999999999999\n", "proxy.cache.maxsize"),
])
def test_a_huge_or_negative_number_in_the_config_is_refused_with_its_key(tmp_path, text, key):
    config = tmp_path / "huge.yml"
    config.write_text(text)
    status, output = _refused(tmp_path, ["--config", str(config)])
    assert status == 2, output  # a message and exit 2, not a trap
    assert f"{config}: {key}:" in output, output


def test_an_unknown_flag_is_refused(tmp_path):
    status, output = _refused(tmp_path, ["--tls-certificate", "/certs/domain.crt"])
    assert status != 0 and "tls-certificate" in output, output


def test_a_mapping_key_that_is_not_a_string_is_refused_not_a_trap(tmp_path):
    # Found by the configuration fuzz target: Yams traps on a complex key (`? [a, b]`).
    config = tmp_path / "complex.yml"
    config.write_text("http:\n  addr: 127.0.0.1:5000\n? [a, b]\n: c\n")
    status, output = _refused(tmp_path, ["--config", str(config)])
    assert status == 2, output
    assert str(config) in output and "plain string" in output, output
