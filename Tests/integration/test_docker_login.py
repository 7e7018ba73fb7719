"""A registry:2 config.yml with both `http.tls` and `auth.htpasswd`, given as it is to Berth and to Debian's
docker-registry: both serve TLS only and ask for a login, and the Docker daemon (`docker login`, `pull`, `tag`,
`push`, `logout`) and skopeo work against each the same way. The CA is made here with the openssl CLI and
handed to dockerd through /etc/docker/certs.d, as an operator does."""
import base64
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import berth_binary, reference_binary
from dockerutil import Dockerd
from imagebuild import skopeo
from mirrorutil import build_image, make_ca_and_server_cert
from regutil import TIMEOUT, free_port
from processes import stop_process

pytestmark = pytest.mark.berth_only  # starts both servers itself with one configuration file

WORKERS = os.environ.get("BERTH_WORKERS", "1")
REALM = "Berth docker login test"


def registry2_config(root, certs, users):
    """As registry:2's documentation writes a TLS + htpasswd deployment; the address comes from the environment."""
    return f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  secret: a-secret-for-the-test
  tls:
    certificate: {certs['cert']}
    key: {certs['key']}
auth:
  htpasswd:
    realm: {REALM}
    path: {users}
"""


class Server:
    """Berth or docker-registry on the shared config file, its address set by REGISTRY_HTTP_ADDR (which both
    read); ready when GET /v2/ over TLS answers 401. Stopped by PID."""

    def __init__(self, kind, tmp_path, certs, users):
        self.kind = kind
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"https://{self.host}"
        self.ca = certs["ca"]
        config = tmp_path / "config.yml"
        if not config.exists():
            config.write_text(registry2_config(tmp_path / "root", certs, users))
        # Each on a root of its own: the same file, two storage directories set by the environment too.
        root = tmp_path / f"root-{kind}"
        env = {**os.environ, "REGISTRY_HTTP_ADDR": self.host, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(root),
               "BERTH_WORKERS": WORKERS}
        argv = [berth_binary(), "serve", "--config", str(config)] if kind == "berth" else [reference_binary(), "serve", str(config)]
        self.log_path = tmp_path / f"{kind}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{kind} exited {self.proc.returncode}\n{self.logs()}"
            try:
                if self.get("/v2/").status_code == 401:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"{kind} never answered 401 on /v2/ over TLS\n{self.logs()}")

    def get(self, path, auth=None):
        headers = {"Authorization": auth} if auth else {}
        return requests.get(self.base + path, headers=headers, verify=self.ca, timeout=TIMEOUT)

    def logs(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        stop_process(self.proc, timeout=15)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def certs(tmp_path):
    return make_ca_and_server_cert(tmp_path / "certs")


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(path), "alice", "wonderland"], check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture
def servers(tmp_path, certs, users):
    started = []

    def start(kind):
        server = Server(kind, tmp_path, certs, users)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def dockerd(tmp_path):
    daemon = Dockerd(tmp_path)
    yield daemon
    daemon.stop()


def cert_dir(tmp_path, certs):
    """A directory as skopeo's --cert-dir wants it: the CA as ca.crt."""
    directory = tmp_path / "skopeo-certs"
    if not directory.exists():
        directory.mkdir()
        (directory / "ca.crt").write_bytes(open(certs["ca"], "rb").read())
    return str(directory)


@pytest.mark.parametrize("kind", ["berth", "docker-registry"])
def test_the_same_tls_and_htpasswd_config_asks_every_request_for_a_login_over_tls_only(kind, servers, tmp_path, certs):
    server = servers(kind)
    anonymous = server.get("/v2/")
    assert anonymous.status_code == 401, (kind, anonymous.status_code, anonymous.text)
    assert anonymous.headers["WWW-Authenticate"] == f'Basic realm="{REALM}"', (kind, anonymous.headers)
    assert [e["code"] for e in anonymous.json()["errors"]] == ["UNAUTHORIZED"], (kind, anonymous.text)
    assert server.get("/v2/team/app/tags/list", basic("alice", "not-her-password")).status_code == 401, kind
    assert server.get("/v2/", basic("alice", "wonderland")).status_code == 200, kind
    # Plain HTTP on the TLS port is not served as the registry (Go answers 400 in plain text; Berth ends the
    # handshake): neither the API's 401 nor a 200.
    try:
        plain = requests.get(f"http://{server.host}/v2/", timeout=TIMEOUT)
        assert plain.status_code == 400 and "errors" not in plain.text, (kind, plain.status_code, plain.text)
    except requests.ConnectionError:
        pass
    image = build_image(tmp_path / f"image-{kind}", "v1", nlayers=2, layer_size=40_000)
    certdir = cert_dir(tmp_path, certs)
    with pytest.raises(AssertionError, match="(?i)unauthorized|authentication required"):
        skopeo("copy", "--dest-cert-dir", certdir, "--dest-creds", "alice:wrong", f"oci:{image['layout'].path}:v1",
               f"docker://{server.host}/team/app:v1", tmp_path=tmp_path)
    skopeo("copy", "--dest-cert-dir", certdir, "--dest-creds", "alice:wonderland", f"oci:{image['layout'].path}:v1",
           f"docker://{server.host}/team/app:v1", tmp_path=tmp_path)
    raw = skopeo("inspect", "--cert-dir", certdir, "--creds", "alice:wonderland", "--raw",
                 f"docker://{server.host}/team/app:v1", tmp_path=tmp_path)
    assert raw == image["manifest"], kind


@pytest.mark.parametrize("kind", ["berth", "docker-registry"])
def test_docker_login_pull_tag_push_and_logout_over_tls_with_htpasswd(kind, servers, dockerd, tmp_path, certs):
    server = servers(kind)
    dockerd.trust(server.host, certs["ca"])
    image = build_image(tmp_path / "image", "v1", nlayers=2, layer_size=40_000)
    skopeo("copy", "--dest-cert-dir", cert_dir(tmp_path, certs), "--dest-creds", "alice:wonderland",
           f"oci:{image['layout'].path}:v1", f"docker://{server.host}/team/app:v1", tmp_path=tmp_path)

    refused = dockerd.run("login", server.host, "-u", "alice", "--password-stdin", input="wrong\n", check=False)
    assert refused.returncode != 0 and "unauthorized" in (refused.stdout + refused.stderr).lower(), (kind, refused.stderr)
    # Not logged in: no pull. (The daemon takes every 127.0.0.0/8 registry as insecure, so after the 401 over
    # TLS it tries plain HTTP too, and reports that attempt's failure.)
    anonymous = dockerd.run("pull", f"{server.host}/team/app:v1", check=False)
    assert anonymous.returncode != 0, (kind, anonymous.stdout)
    assert dockerd.run("image", "inspect", f"{server.host}/team/app:v1", check=False).returncode != 0, kind

    login = dockerd.run("login", server.host, "-u", "alice", "--password-stdin", input="wonderland\n")
    assert "Login Succeeded" in login.stdout, (kind, login.stdout, login.stderr)
    dockerd.run("pull", f"{server.host}/team/app:v1")
    dockerd.run("tag", f"{server.host}/team/app:v1", f"{server.host}/team/copy:v2")
    dockerd.run("push", f"{server.host}/team/copy:v2")

    pushed = json.loads(skopeo("inspect", "--cert-dir", cert_dir(tmp_path, certs), "--creds", "alice:wonderland", "--raw",
                               f"docker://{server.host}/team/copy:v2", tmp_path=tmp_path))
    original = json.loads(image["manifest"])
    assert [layer["digest"] for layer in pushed["layers"]] == [layer["digest"] for layer in original["layers"]], kind
    assert pushed["config"]["digest"] == original["config"]["digest"], kind

    dockerd.run("logout", server.host)
    dockerd.run("rmi", f"{server.host}/team/copy:v2", f"{server.host}/team/app:v1")
    after = dockerd.run("pull", f"{server.host}/team/copy:v2", check=False)
    assert after.returncode != 0, (kind, after.stdout)
    assert dockerd.run("image", "inspect", f"{server.host}/team/copy:v2", check=False).returncode != 0, kind
