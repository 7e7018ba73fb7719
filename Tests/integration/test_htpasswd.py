"""auth.htpasswd as registry:2 has it: Basic credentials of the users of an htpasswd file (bcrypt entries, as
`htpasswd -B` writes them), a 401 with `WWW-Authenticate: Basic realm="..."` and the spec's UNAUTHORIZED body
otherwise, the file read again when it changes, failed logins counted per address and throttled (429), and a
kept-alive client verified by bcrypt once. Real clients: skopeo and podman, over plain HTTP."""
import base64
import hashlib
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import berth_binary, reference_binary
from imagebuild import Layout, read_layout, skopeo
from regutil import OCI_MANIFEST, TIMEOUT, assert_error, describe, digest_of, free_port, random_bytes, raw_request
from processes import stop_process

pytestmark = pytest.mark.berth_only  # starts Berth itself with its own configuration

REALM = 'Berth "Test" Realm'
CHALLENGE = 'Basic realm="Berth \\"Test\\" Realm"'
THROTTLE_LIMIT = 10  # LoginThrottle.defaultLimit
FILE_CHECK_SECONDS = 1.1  # HtpasswdLogins.fileCheckIntervalMilliseconds, and a margin


def htpasswd(path, user, password, create=False, cost=None):
    argv = ["htpasswd", "-B", "-b"] + (["-c"] if create else []) + (["-C", str(cost)] if cost else []) + [str(path), user, password]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def registry2_config(root, addr, path):
    """A config.yml as registry:2's documentation writes it."""
    return (
        "version: 0.1\n"
        "log:\n  level: info\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {addr}\n  secret: berth-integration-tests-fixed-secret\n"
        "auth:\n"
        "  htpasswd:\n"
        f"    realm: '{REALM}'\n"
        f"    path: {path}\n"
    )


class Server:
    """Berth (or docker-registry) on a config file, ready when GET /v2/ answers 401; stopped by PID."""

    def __init__(self, tmp_path, config, kind="berth", label="berth", env=None):
        self.kind, self.label = kind, label
        self.config = tmp_path / f"{label}.yml"
        self.config.write_text(config)
        self.port = int(re.search(r"addr: 127\.0\.0\.1:(\d+)", config).group(1))
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"
        self.log_path = tmp_path / f"{label}.log"
        argv = [berth_binary(), "serve", "--config", str(self.config)] if kind == "berth" else \
            [reference_binary(), "serve", str(self.config)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{label} exited {self.proc.returncode}\n{self.logs()}"
            try:
                if requests.get(self.base + "/v2/", timeout=2).status_code == 401:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"{label} never answered 401 on /v2/\n{self.logs()}")

    def logs(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        stop_process(self.proc, timeout=15)

    def get(self, path, auth=None, **kwargs):
        headers = {"Authorization": auth} if auth else {}
        headers.update(kwargs.pop("headers", {}))
        return requests.get(self.base + path, headers=headers, timeout=TIMEOUT, **kwargs)


@pytest.fixture
def servers():
    started = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def users_template(tmp_path_factory):
    """Made once (bcrypt at cost 14 takes a second): alice as `htpasswd -B -b -c` writes her, and users whose
    checks take longer, for the tests that need a verification under way."""
    path = tmp_path_factory.mktemp("users") / "htpasswd"
    htpasswd(path, "alice", "wonderland", create=True)
    htpasswd(path, "keeper", "kept-alive")
    for user in ("carol", "dave"):
        htpasswd(path, user, "pw-" + user, cost=12)
    htpasswd(path, "slow", "slowly", cost=14)
    # Not bcrypt: registry:2 (and so Berth) lets no password log in as these.
    subprocess.run(["htpasswd", "-b", "-s", str(path), "sha", "pw-sha"], check=True, capture_output=True, timeout=60)
    subprocess.run(["htpasswd", "-b", "-m", str(path), "md5", "pw-md5"], check=True, capture_output=True, timeout=60)
    return path.read_bytes()


@pytest.fixture
def users(tmp_path, users_template):
    path = tmp_path / "auth" / "htpasswd"
    path.parent.mkdir()
    path.write_bytes(users_template)
    return path


@pytest.fixture
def berth(tmp_path, users, servers):
    server = Server(tmp_path, registry2_config(tmp_path / "root", f"127.0.0.1:{free_port()}", users))
    servers.append(server)
    return server


def metric(server, name):
    text = requests.get(server.base + "/metrics", timeout=TIMEOUT).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def wait_for(condition, what, server, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"no {what} within {seconds} s\n{server.logs()[-6000:]}")


def assert_challenged(r):
    assert r.status_code == 401, describe(r)
    assert r.headers.get("WWW-Authenticate") == CHALLENGE, describe(r)
    assert r.headers.get("Docker-Distribution-Api-Version") == "registry/2.0", describe(r)
    if r.request.method != "HEAD":
        assert_error(r, (401,), "UNAUTHORIZED")


def test_without_credentials_every_registry_route_is_401_with_the_basic_challenge_and_health_stays_open(berth):
    r = berth.get("/v2/")
    assert_challenged(r)
    # Byte for byte registry:2's answer to `docker login`'s first request.
    assert r.content == b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}\n'
    for method, path in [("GET", "/v2/team/app/manifests/v1"), ("HEAD", "/v2/team/app/manifests/v1"),
                         ("GET", "/v2/team/app/blobs/sha256:" + "0" * 64), ("POST", "/v2/team/app/blobs/uploads/"),
                         ("GET", "/v2/team/app/tags/list"), ("GET", "/v2/_catalog"),
                         ("DELETE", "/v2/team/app/manifests/sha256:" + "0" * 64),
                         ("GET", "/namespace/team%2Fmodels/blobs/sha256:" + "0" * 64)]:
        assert_challenged(requests.request(method, berth.base + path, timeout=TIMEOUT))
    # A wrong password, an unknown user, another scheme, and base64 of no user:password are all the same 401.
    for auth in [basic("alice", "wrong"), basic("nobody", "wonderland"), "Bearer abc.def.ghi", "Basic bm9jb2xvbg=="]:
        assert_challenged(berth.get("/v2/", auth))
    # registry:2 keeps health and metrics on its debug server, open; so does Berth.
    for path in ("/healthz", "/readyz", "/metrics"):
        assert berth.get(path).status_code == 200, path
    r = berth.get("/v2/", basic("alice", "wonderland"))
    assert r.status_code == 200 and r.json() == {}, describe(r)


def test_a_registry2_config_with_htpasswd_starts_berth_with_auth_and_docker_registry_answers_alike(tmp_path, users, servers):
    answers = {}
    for kind in ("berth", "reference"):
        config = registry2_config(tmp_path / f"root-{kind}", f"127.0.0.1:{free_port()}", users)
        server = Server(tmp_path, config, kind=kind, label=kind)
        servers.append(server)
        right, wrong = basic("alice", "wonderland"), basic("alice", "nope")
        seen = []
        for method, path, auth in [("GET", "/v2/", None), ("GET", "/v2/", right), ("GET", "/v2/", wrong),
                                   ("GET", "/v2/", "Bearer x"), ("HEAD", "/v2/", None),
                                   ("GET", "/v2/team/app/manifests/v1", None), ("GET", "/v2/team/app/manifests/v1", wrong),
                                   ("GET", "/v2/team/app/tags/list", right), ("GET", "/v2/", basic("sha", "pw-sha")),
                                   ("GET", "/v2/", basic("md5", "pw-md5"))]:
            r = requests.request(method, server.base + path, headers={"Authorization": auth} if auth else {}, timeout=TIMEOUT)
            body = r.json() if r.content else None
            codes = [e["code"] for e in body["errors"]] if isinstance(body, dict) and "errors" in body else body
            seen.append((method, path, r.status_code, r.headers.get("WWW-Authenticate"), codes))
        answers[kind] = seen
    assert answers["berth"] == answers["reference"]
    assert answers["berth"][0][2:4] == (401, CHALLENGE)
    assert [answer[2] for answer in answers["berth"][-2:]] == [401, 401]
    berth = next(server for server in servers if server.kind == "berth")
    assert 'no password can log in as "md5", "sha"' in berth.logs()


def test_skopeo_login_and_copy_with_creds_and_a_wrong_password_fails_login(berth, tmp_path):
    layout = Layout(tmp_path / "src")
    image = layout.add_image(nlayers=2)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    out = skopeo("login", "--tls-verify=false", "-u", "alice", "-p", "wonderland", berth.host, tmp_path=tmp_path)
    assert b"Login Succeeded" in out
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:wonderland", f"oci:{layout.path}:v1",
           f"docker://{berth.host}/team/app:v1", tmp_path=tmp_path)
    # With the login's stored credentials, no --src-creds.
    skopeo("copy", "--src-tls-verify=false", f"docker://{berth.host}/team/app:v1", f"oci:{tmp_path / 'back'}:v1",
           tmp_path=tmp_path)
    manifest, _, blobs = read_layout(tmp_path / "back", "v1")
    assert manifest == image["manifest"]
    assert all(blobs[digest_of(layer)] == layer for layer in image["layers"])

    (tmp_path / "other").mkdir()
    with pytest.raises(AssertionError) as refused:
        skopeo("login", "--tls-verify=false", "-u", "alice", "-p", "not-the-password", berth.host,
               tmp_path=tmp_path / "other")
    assert "invalid username/password" in str(refused.value), str(refused.value)
    # Credentials are never logged: neither the passwords nor the header's base64.
    logs = berth.logs()
    for secret in ("wonderland", "not-the-password", basic("alice", "wonderland").split()[1]):
        assert secret not in logs


@pytest.fixture
def runroot():
    with tempfile.TemporaryDirectory(prefix="berth-pm-", dir="/tmp") as path:
        yield path


def podman(tmp_path, runroot, *args):
    argv = ["podman", "--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "none", *args]
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(tmp_path / "podman-auth.json"),
           "CONTAINERS_REGISTRIES_CONF": str(tmp_path / "registries.conf")}
    (tmp_path / "registries.conf").write_text("unqualified-search-registries = []\n")
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


def test_podman_login_then_push_and_pull(berth, tmp_path, runroot):
    layout = Layout(tmp_path / "src")
    image = layout.add_image(nlayers=2)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:wonderland", f"oci:{layout.path}:v1",
           f"docker://{berth.host}/team/podman:v1", tmp_path=tmp_path)
    source, target = f"{berth.host}/team/podman:v1", f"{berth.host}/team/podman-copy:v2"
    assert podman(tmp_path, runroot, "pull", "--tls-verify=false", source).returncode != 0, "pulled without a login"
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", "alice", "-p", "wonderland", berth.host)
    assert result.returncode == 0 and "Login Succeeded" in result.stdout, result.stderr
    for args in (["pull", "--tls-verify=false", source], ["tag", source, target], ["push", "--tls-verify=false", target]):
        result = podman(tmp_path, runroot, *args)
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    r = berth.get("/v2/team/podman-copy/manifests/v2", basic("alice", "wonderland"),
                  headers={"Accept": OCI_MANIFEST + ",application/vnd.docker.distribution.manifest.v2+json"})
    assert r.status_code == 200 and len(r.json()["layers"]) == 2, describe(r)
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", "alice", "-p", "wrong", berth.host)
    assert result.returncode != 0


def test_a_user_added_to_the_file_is_honoured_and_a_removed_one_refused_without_a_restart(berth, users):
    bob = basic("bob", "builder")
    alice = basic("alice", "wonderland")
    assert berth.get("/v2/", alice).status_code == 200  # cached from here on
    assert_challenged(berth.get("/v2/", bob))
    htpasswd(users, "bob", "builder")
    # Past the file's check interval (1 s) before polling: every poll before the change is seen is a failed login
    # from this address, and on a quiet machine twenty of them (one per 50 ms) got the address throttled (429).
    time.sleep(FILE_CHECK_SECONDS)
    wait_for(lambda: berth.get("/v2/", bob).status_code == 200, "bob admitted", berth)
    # Rewritten with bob alone: alice's cached login goes with the old file.
    htpasswd(users, "bob", "builder", create=True)
    time.sleep(FILE_CHECK_SECONDS)
    wait_for(lambda: berth.get("/v2/", alice).status_code == 401, "alice refused", berth)
    assert berth.get("/v2/", bob).status_code == 200
    # A file broken while serving refuses every login (never no authentication) until it is fixed.
    good = users.read_bytes()
    users.write_text("bob builder\n")
    def unavailable():
        r = berth.get("/v2/", bob)
        return r.status_code == 503 and [e["code"] for e in r.json()["errors"]] == ["UNAVAILABLE"]
    wait_for(unavailable, "bob refused with 503 UNAVAILABLE while the file is broken", berth)
    assert_challenged(berth.get("/v2/"))
    users.write_bytes(good)
    wait_for(lambda: berth.get("/v2/", bob).status_code == 200, "bob admitted again", berth)


def test_after_ten_failures_an_address_is_answered_429_and_a_right_password_from_another_address_works(berth):
    wrong = basic("alice", "guess")
    # One kept-alive connection: one worker process sees every attempt (each worker throttles on its own).
    conn = http.client.HTTPConnection("127.0.0.1", berth.port, timeout=TIMEOUT)
    statuses = []
    for _ in range(THROTTLE_LIMIT):
        conn.request("GET", "/v2/", headers={"Authorization": wrong})
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    assert statuses == [401] * THROTTLE_LIMIT
    conn.request("GET", "/v2/", headers={"Authorization": basic("alice", "wonderland")})
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 429, body
    assert [e["code"] for e in body["errors"]] == ["TOOMANYREQUESTS"]
    assert 1 <= int(response.getheader("Retry-After")) <= 60
    conn.close()

    other = http.client.HTTPConnection("127.0.0.1", berth.port, timeout=TIMEOUT, source_address=("127.0.0.2", 0))
    other.request("GET", "/v2/", headers={"Authorization": basic("alice", "wonderland")})
    response = other.getresponse()
    response.read()
    assert response.status == 200
    other.close()
    wait_for(lambda: metric(berth, 'berth_auth_failures_total{client="127.0.0.1"}') == THROTTLE_LIMIT,
             "ten failures counted for 127.0.0.1", berth)
    # With two workers a scrape may reach the other one, which shows this one's figures up to a second late.
    wait_for(lambda: metric(berth, "berth_auth_throttled_total") >= 1, "the 429 counted", berth)
    assert metric(berth, 'berth_auth_failures_total{client="127.0.0.2"}') == 0


def test_a_kept_alive_client_costs_one_bcrypt_for_many_manifest_gets(berth):
    alice = requests.Session()
    alice.headers["Authorization"] = basic("alice", "wonderland")
    config = b"{}"
    digest = digest_of(config)
    r = alice.post(f"{berth.base}/v2/team/kept/blobs/uploads/?digest={digest}", data=config, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": len(config)}, "layers": []}).encode()
    r = alice.put(f"{berth.base}/v2/team/kept/manifests/v1", data=manifest, headers={"Content-Type": OCI_MANIFEST}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)

    # One connection, so one worker: its own figures are live in what it answers (the others' at most 1 s old,
    # and still: nothing else is sent to them).
    conn = http.client.HTTPConnection("127.0.0.1", berth.port, timeout=TIMEOUT)

    def bcrypts():
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        return float(re.search(r"^berth_auth_bcrypt_verifications_total (\S+)$", response.read().decode(), re.M).group(1))
    last = [bcrypts()]

    def settled():
        time.sleep(1.2)
        value, last[0] = last[0], bcrypts()
        return value == last[0]
    wait_for(settled, "the other workers' figures to settle", berth)
    before = last[0]
    keeper = basic("keeper", "kept-alive")
    for _ in range(50):
        conn.request("GET", "/v2/team/kept/manifests/v1", headers={"Authorization": keeper, "Accept": OCI_MANIFEST})
        response = conn.getresponse()
        assert response.status == 200 and response.read() == manifest
    after = bcrypts()
    conn.close()
    assert after - before == 1, (before, after)


def test_a_body_sent_while_its_credentials_are_checked_arrives_whole(berth):
    """A request whose credentials are new waits for bcrypt with its body held back, then gets all of it."""
    data = random_bytes(6 << 20)
    digest = digest_of(data)
    # A monolithic upload: the POST carries the whole blob.
    r = requests.post(f"{berth.base}/v2/team/held/blobs/uploads/?digest={digest}", data=data,
                      headers={"Authorization": basic("carol", "pw-carol")}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    # A chunked PATCH with a fresh login of its own.
    r = requests.post(f"{berth.base}/v2/team/held/blobs/uploads/", headers={"Authorization": basic("alice", "wonderland")},
                      timeout=TIMEOUT)
    assert r.status_code == 202, describe(r)
    location = r.headers["Location"]
    location = location if location.startswith("http") else berth.base + location
    r = requests.patch(location, data=data[:4 << 20], headers={"Authorization": basic("dave", "pw-dave"),
                       "Content-Type": "application/octet-stream"}, timeout=TIMEOUT)
    assert r.status_code == 202, describe(r)
    r = requests.put(location + ("&" if "?" in location else "?") + f"digest={digest}", data=data[4 << 20:],
                     headers={"Authorization": basic("dave", "pw-dave")}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    r = berth.get(f"/v2/team/held/blobs/{digest}", basic("alice", "wonderland"))
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest.split(":")[1]

    # The head and the start of the body in one write, so the server reads body bytes with the head, before
    # the check: they are kept and given to the upload. (`basic` in lower case is the same login under another
    # Authorization value, so it is checked again.)
    body = random_bytes(200_000)
    fresh = "basic " + basic("carol", "pw-carol").split()[1]
    payload = (f"POST /v2/team/raw/blobs/uploads/?digest={digest_of(body)} HTTP/1.1\r\nHost: x\r\nAuthorization: {fresh}\r\n"
               f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    response = raw_request(berth.host, payload)
    assert response.status == 201, response
    r = berth.get(f"/v2/team/raw/blobs/{digest_of(body)}", basic("alice", "wonderland"))
    assert r.status_code == 200 and r.content == body


def test_a_check_under_way_blocks_no_other_connection_and_a_client_that_leaves_meanwhile_is_harmless(berth):
    assert berth.get("/v2/", basic("alice", "wonderland")).status_code == 200
    # One client leaves while its (slow) check runs; another waits for its own.
    leaving = socket.create_connection(("127.0.0.1", berth.port), timeout=TIMEOUT)
    leaving.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic("slow", "slowly").encode() + b"\r\n\r\n")
    leaving.close()
    waiting = socket.create_connection(("127.0.0.1", berth.port), timeout=TIMEOUT)
    waiting.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic("slow", "slowly").encode() + b"\r\n\r\n")
    # Meanwhile an already verified client is answered at once, on its own connection.
    assert berth.get("/v2/", basic("alice", "wonderland")).status_code == 200
    readable, _, _ = select.select([waiting], [], [], 0)
    assert not readable, "the slow check was done before the other request: the test proves nothing"
    waiting.settimeout(TIMEOUT)
    head = waiting.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    waiting.close()
    assert berth.proc.poll() is None
    assert berth.get("/v2/", basic("slow", "slowly")).status_code == 200


def test_a_missing_file_is_created_with_a_docker_user_whose_password_is_logged_as_registry2_does(tmp_path, servers):
    path = tmp_path / "made" / "here" / "htpasswd"
    server = Server(tmp_path, registry2_config(tmp_path / "root", f"127.0.0.1:{free_port()}", path))
    servers.append(server)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    user, hashed = path.read_text().split(":", 1)
    assert user == "docker" and hashed.startswith("$2") and len(hashed) == 60
    password = re.search(r"created with the user docker, password (\S+)", server.logs()).group(1)
    assert len(base64.urlsafe_b64decode(password + "=")) == 32
    assert server.get("/v2/", basic("docker", password)).status_code == 200
    assert_challenged(server.get("/v2/", basic("docker", "guess")))


def test_a_file_that_is_not_htpasswd_or_a_realm_without_a_path_stops_berth_with_a_message_naming_the_key(tmp_path):
    broken = tmp_path / "htpasswd"
    broken.write_text("alice:$2y$05$abc\nnot an entry\n")
    config = tmp_path / "broken.yml"
    config.write_text(registry2_config(tmp_path / "root", f"127.0.0.1:{free_port()}", broken))
    result = subprocess.run([berth_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f"auth.htpasswd.path {broken}: line 2 is not user:hash" in result.stderr, result.stderr
    config.write_text(f"version: 0.1\nhttp: {{addr: 127.0.0.1:{free_port()}}}\nauth:\n  htpasswd:\n    realm: R\n")
    result = subprocess.run([berth_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"{config}: auth.htpasswd.path is not set" in result.stderr, result.stderr


def test_sighup_reads_the_file_again_even_when_its_stat_looks_unchanged(berth, users):
    """A change the once-a-second check cannot see (same inode, size and mtime): SIGHUP still reads the file
    (with 2 or more workers, as part of the reload)."""
    old, new = basic("alice", "wonderland"), basic("alice", "looking-glass")
    assert berth.get("/v2/", old).status_code == 200
    before = os.stat(users)
    line = subprocess.run(["htpasswd", "-nbB", "alice", "looking-glass"], check=True, capture_output=True, text=True).stdout.strip()
    text = users.read_text()
    current = next(entry for entry in text.splitlines() if entry.startswith("alice:"))
    assert len(line) == len(current)
    with open(users, "r+b") as f:
        f.write(text.replace(current, line).encode())
    os.utime(users, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(users)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    os.kill(berth.proc.pid, signal.SIGHUP)
    wait_for(lambda: berth.get("/v2/", new).status_code == 200, "the new password after SIGHUP", berth)
    wait_for(lambda: berth.get("/v2/", old).status_code == 401, "the old password refused after SIGHUP", berth)
