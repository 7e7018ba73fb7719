"""auth.builtin, Berth's built-in token issuer: the registry challenges with Bearer and a realm on its own port,
the endpoint there logs users of an htpasswd file in (bcrypt, cached, throttled as auth.htpasswd) and signs tokens
that grant, of the scopes asked, what the access rules give the user; anonymous requests get the anonymous rules.
Real clients log in through it unchanged: docker (a daemon of its own, run for the module), podman, skopeo, oras;
Debian's docker-registry verifies the same tokens with a certificate of the key as its rootcertbundle."""
import base64
import hashlib
import json
import os
import signal
import subprocess
import io
import tarfile
import time

import oras.client
import pytest
import requests

from conftest import berth_binary
from dockerutil import Dockerd
from imagebuild import Layout, read_layout, skopeo
from mirrorutil import make_ca_and_server_cert
from regutil import OCI_MANIFEST, TIMEOUT, assert_error, describe, free_port, random_bytes, wait_for
# users: the file made from this module's users_template; runroot, servers: fixtures.
from test_htpasswd import THROTTLE_LIMIT, Server, basic, htpasswd, metric, podman, runroot, servers, users  # noqa: F401

pytestmark = pytest.mark.berth_only  # starts Berth itself with its own configuration

MANIFEST_ACCEPT = OCI_MANIFEST + ",application/vnd.docker.distribution.manifest.v2+json"
PASSWORDS = {"alice": "wonderland", "bot": "beep-boop", "reader": "read-only", "bob": "builder"}
RULES = """    groups: {ci: [bot]}
    access:
      - {account: alice, name: "*", actions: ["*"]}
      - {account: alice, type: registry, name: catalog, actions: ["*"]}
      - {group: ci, name: "ci/*", actions: [pull, push]}
      - {account: reader, name: "*", actions: [pull]}
      - {account: "*", name: "${account}/*", actions: [pull, push]}
      - {anonymous: true, name: "public/*", actions: [pull]}
"""


def issuer_config(root, addr, users, key, extra="", rules=RULES, tls=None):
    return (
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {addr}\n"
        + (f"  tls:\n    certificate: {tls['cert']}\n    key: {tls['key']}\n" if tls else "")
        + "auth:\n  builtin:\n"
        f"    htpasswd: {users}\n    key: {key}\n" + extra + rules
    )


@pytest.fixture(scope="module")
def users_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("issuer-users") / "htpasswd"
    for index, (user, password) in enumerate(PASSWORDS.items()):
        htpasswd(path, user, password, create=index == 0)
    return path.read_bytes()


def start(tmp_path, servers, users, extra="", label="berth"):
    key = tmp_path / "keys" / "token.pem"
    server = Server(tmp_path, issuer_config(tmp_path / f"root-{label}", f"127.0.0.1:{free_port()}", users, key, extra),
                    label=label)
    server.key = key
    servers.append(server)
    return server


@pytest.fixture
def berth(tmp_path, users, servers):
    return start(tmp_path, servers, users)


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header(token):
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def token(server, *scopes, auth=None, **params):
    r = requests.get(server.base + "/auth/token", params={"service": "berth", "scope": list(scopes), **params},
                     headers={"Authorization": auth} if auth else {}, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    return r.json()


def bearer(value):
    return "Bearer " + value


def libtrust_key_id(pem_path):
    """docker/libtrust's key id: the SHA-256 of the DER public key, its first 240 bits in base32, by fours."""
    der = subprocess.run(["openssl", "pkey", "-in", str(pem_path), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True, timeout=30).stdout
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


def image_layout(tmp_path, nlayers=1):
    layout = Layout(tmp_path / "src")
    image = layout.add_image(nlayers=nlayers)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    return layout, image


def push_as(server, tmp_path, layout, name, creds="alice:wonderland"):
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout.path}:v1", f"docker://{server.host}/{name}:v1",
           tmp_path=tmp_path)


def test_the_registry_challenges_with_bearer_at_its_own_endpoint_and_the_key_is_made_p256_mode_0600(berth):
    r = berth.get("/v2/")
    assert r.status_code == 401, describe(r)
    assert r.headers["WWW-Authenticate"] == f'Bearer realm="{berth.base}/auth/token",service="berth"', describe(r)
    assert oct(os.stat(berth.key).st_mode & 0o777) == "0o600"
    assert oct(os.stat(berth.key.parent).st_mode & 0o777) == "0o700"
    text = subprocess.run(["openssl", "pkey", "-in", str(berth.key), "-noout", "-text"], check=True, capture_output=True,
                          text=True, timeout=30).stdout
    assert "prime256v1" in text or "P-256" in text, text
    answer = token(berth, auth=basic("alice", "wonderland"))
    assert header(answer["token"]) == {"typ": "JWT", "alg": "ES256", "kid": libtrust_key_id(berth.key)}
    assert "auth.builtin.key" in berth.logs() and "was missing: created" in berth.logs()


def test_a_token_grants_of_the_scopes_asked_only_what_the_rules_give_the_user(berth):
    before = int(time.time())
    answer = token(berth, "repository:ci/app:pull,push,delete", "repository:other/app:pull,push", "registry:catalog:*",
                   auth=basic("bot", "beep-boop"), account="bot")
    assert answer["token"] == answer["access_token"]
    assert answer["expires_in"] == 300
    assert answer["issued_at"].endswith("Z")
    assert "refresh_token" not in answer
    got = claims(answer["token"])
    assert got["iss"] == "berth" and got["sub"] == "bot" and got["aud"] in ("berth", ["berth"])
    assert got["exp"] - got["iat"] == 300 and before <= got["iat"] <= int(time.time()) and got["nbf"] <= got["iat"]
    assert len(got["jti"]) >= 16
    assert got["access"] == [{"type": "repository", "name": "ci/app", "actions": ["pull", "push"]}]
    # Every logged-in user has a namespace of their own; alice has everything, the catalog included.
    assert claims(token(berth, "repository:bob/x:push", auth=basic("bob", "builder"))["token"])["access"] == [
        {"type": "repository", "name": "bob/x", "actions": ["push"]}]
    assert claims(token(berth, "registry:catalog:*", "repository:x:delete", auth=basic("alice", "wonderland"))["token"])["access"] == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}, {"type": "repository", "name": "x", "actions": ["delete"]}]


def test_a_wrong_password_or_unknown_user_is_401_counted_in_metrics_and_never_logged(berth):
    for auth in (basic("alice", "guess"), basic("nobody", "wonderland")):
        r = requests.get(berth.base + "/auth/token", params={"service": "berth", "scope": "repository:x:pull"},
                         headers={"Authorization": auth}, timeout=TIMEOUT)
        assert_error(r, (401,), "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == 'Basic realm="berth"', describe(r)
    # With several workers /metrics adds up the others' snapshots, published every second.
    wait_for(lambda: metric(berth, 'berth_auth_failures_total{client="127.0.0.1"}') == 2, "2 failed logins counted")
    r = requests.get(berth.base + "/auth/token", params={"service": "other"}, headers={"Authorization": basic("alice", "wonderland")},
                     timeout=TIMEOUT)
    assert r.status_code == 400, describe(r)
    r = requests.get(berth.base + "/auth/token", params={"account": "bob"}, headers={"Authorization": basic("alice", "wonderland")},
                     timeout=TIMEOUT)
    assert r.status_code == 400, describe(r)
    assert "guess" not in berth.logs() and "wonderland" not in berth.logs()


def test_guessing_at_the_endpoint_is_throttled_as_htpasswd_logins_are(berth):
    # One kept-alive connection: one worker sees every attempt (each worker throttles on its own).
    session = requests.Session()
    wrong = {"Authorization": basic("alice", "guess")}
    statuses = [session.get(berth.base + "/auth/token", headers=wrong, timeout=TIMEOUT).status_code for _ in range(THROTTLE_LIMIT)]
    assert statuses == [401] * THROTTLE_LIMIT
    r = session.get(berth.base + "/auth/token", headers={"Authorization": basic("alice", "wonderland")}, timeout=TIMEOUT)
    assert_error(r, (429,), "TOOMANYREQUESTS")
    assert int(r.headers["Retry-After"]) >= 1, describe(r)
    wait_for(lambda: metric(berth, "berth_auth_throttled_total") >= 1, "the 429 counted")


def test_a_bad_rule_a_key_that_is_no_key_or_a_broken_users_file_stops_berth_naming_the_key(tmp_path, users):
    def serve(rules=RULES, key=None, users_file=users):
        config = tmp_path / "issuer.yml"
        config.write_text(issuer_config(tmp_path / "root", f"127.0.0.1:{free_port()}", users_file, key or tmp_path / "k.pem",
                                        rules=rules))
        return subprocess.run([berth_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=30), config
    result, config = serve(rules="    access: [{account: bob, name: 'Team/*', actions: [pull]}]\n")
    assert result.returncode == 2
    assert f"{config}: auth.builtin.access[0].name: Team/*: T cannot be in a repository name" in result.stderr, result.stderr
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    result, _ = serve(key=not_a_key)
    assert result.returncode != 0
    assert f"auth.builtin.key {not_a_key}: not a PEM private key" in result.stderr, result.stderr
    broken = tmp_path / "broken-htpasswd"
    broken.write_text("bob builder\n")
    result, _ = serve(users_file=broken)
    assert result.returncode != 0
    assert f"auth.builtin.htpasswd {broken}: line 1 is not user:hash" in result.stderr, result.stderr


def test_anonymous_requests_get_the_anonymous_rules_so_public_pulls_and_private_is_refused(berth, tmp_path):
    layout, image = image_layout(tmp_path)
    for name in ("public/app", "private/app"):
        push_as(berth, tmp_path, layout, name)
    anonymous = token(berth, "repository:public/app:pull,push", "repository:private/app:pull")
    assert claims(anonymous["token"])["sub"] == ""
    assert claims(anonymous["token"])["access"] == [{"type": "repository", "name": "public/app", "actions": ["pull"]}]
    r = berth.get("/v2/public/app/manifests/v1", bearer(anonymous["token"]), headers={"Accept": MANIFEST_ACCEPT})
    assert r.status_code == 200, describe(r)
    r = berth.get("/v2/private/app/manifests/v1", bearer(anonymous["token"]), headers={"Accept": MANIFEST_ACCEPT})
    assert r.status_code in (401, 403), describe(r)
    # skopeo with no credentials at all: the same, through the client's own token flow.
    (tmp_path / "anon").mkdir()
    skopeo("copy", "--src-tls-verify=false", f"docker://{berth.host}/public/app:v1", f"oci:{tmp_path / 'pub'}:v1",
           tmp_path=tmp_path / "anon")
    assert read_layout(tmp_path / "pub", "v1")[0] == image["manifest"]
    with pytest.raises(AssertionError):
        skopeo("copy", "--src-tls-verify=false", f"docker://{berth.host}/private/app:v1", f"oci:{tmp_path / 'priv'}:v1",
               tmp_path=tmp_path / "anon")


def test_a_pull_only_user_cannot_push_and_the_catalog_needs_its_grant(berth, tmp_path):
    layout, _ = image_layout(tmp_path)
    push_as(berth, tmp_path, layout, "team/app")
    skopeo("copy", "--src-tls-verify=false", "--src-creds", "reader:read-only", f"docker://{berth.host}/team/app:v1",
           f"oci:{tmp_path / 'back'}:v1", tmp_path=tmp_path)
    with pytest.raises(AssertionError):
        push_as(berth, tmp_path, layout, "team/other", creds="reader:read-only")
    reader = token(berth, "repository:team/app:push", auth=basic("reader", "read-only"))["token"]
    r = requests.post(berth.base + "/v2/team/app/blobs/uploads/", headers={"Authorization": bearer(reader)}, timeout=TIMEOUT)
    assert r.status_code in (401, 403), describe(r)
    catalog = token(berth, "registry:catalog:*", auth=basic("reader", "read-only"))["token"]
    assert berth.get("/v2/_catalog", bearer(catalog)).status_code in (401, 403)
    catalog = token(berth, "registry:catalog:*", auth=basic("alice", "wonderland"))["token"]
    r = berth.get("/v2/_catalog", bearer(catalog))
    assert r.status_code == 200 and r.json()["repositories"] == ["team/app"], describe(r)


def test_the_oauth2_post_grants_a_refresh_token_that_ends_when_the_password_changes(berth, users):
    form = {"grant_type": "password", "username": "bob", "password": "builder", "service": "berth", "client_id": "test",
            "access_type": "offline", "scope": "repository:bob/app:pull,push repository:other:push"}
    r = requests.post(berth.base + "/auth/token", data=form, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    answer = r.json()
    assert answer["scope"] == "repository:bob/app:pull,push"
    assert claims(answer["access_token"])["access"] == [{"type": "repository", "name": "bob/app", "actions": ["pull", "push"]}]
    refresh = answer["refresh_token"]
    # A refresh token is no access token: the registry refuses it.
    assert berth.get("/v2/bob/app/tags/list", bearer(refresh)).status_code == 401
    again = {"grant_type": "refresh_token", "refresh_token": refresh, "service": "berth", "client_id": "test",
             "scope": "repository:bob/app:pull"}
    r = requests.post(berth.base + "/auth/token", data=again, timeout=TIMEOUT)
    assert r.status_code == 200 and claims(r.json()["access_token"])["sub"] == "bob", describe(r)
    r = requests.post(berth.base + "/auth/token", data={**form, "password": "wrong"}, timeout=TIMEOUT)
    assert_error(r, (401,), "UNAUTHORIZED")
    htpasswd(users, "bob", "new-password")
    # Each worker notices the change on its own, within a second of its last look.
    wait_for(lambda: requests.post(berth.base + "/auth/token", data=again, timeout=TIMEOUT).status_code == 401,
             "the refresh token refused after the password changed")
    wait_for(lambda: requests.post(berth.base + "/auth/token", data={**form, "password": "new-password"},
                                   timeout=TIMEOUT).status_code == 200, "the new password accepted")


def test_an_expired_token_is_refused_by_the_registry(tmp_path, users, servers):
    server = start(tmp_path, servers, users, extra="    expiration: 1s\n")
    answer = token(server, "repository:alice/app:pull", auth=basic("alice", "wonderland"))
    assert answer["expires_in"] == 1
    assert server.get("/v2/alice/app/tags/list", bearer(answer["token"])).status_code == 404  # admitted: no such repository
    expires = claims(answer["token"])["exp"]
    while time.time() < expires + 1.05:
        time.sleep(0.1)
    r = server.get("/v2/alice/app/tags/list", bearer(answer["token"]))
    assert r.status_code == 401, describe(r)


def test_skopeo_login_and_copy_and_a_wrong_password_fails_login(berth, tmp_path):
    layout, image = image_layout(tmp_path, nlayers=2)
    out = skopeo("login", "--tls-verify=false", "-u", "bot", "-p", "beep-boop", berth.host, tmp_path=tmp_path)
    assert b"Login Succeeded" in out
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", f"docker://{berth.host}/ci/app:v1", tmp_path=tmp_path)
    skopeo("copy", "--src-tls-verify=false", f"docker://{berth.host}/ci/app:v1", f"oci:{tmp_path / 'back'}:v1", tmp_path=tmp_path)
    assert read_layout(tmp_path / "back", "v1")[0] == image["manifest"]
    with pytest.raises(AssertionError):
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", f"docker://{berth.host}/team/app:v1",
               tmp_path=tmp_path)
    (tmp_path / "other").mkdir()
    with pytest.raises(AssertionError) as refused:
        skopeo("login", "--tls-verify=false", "-u", "bot", "-p", "wrong", berth.host, tmp_path=tmp_path / "other")
    assert "invalid username/password" in str(refused.value) or "unauthorized" in str(refused.value).lower(), str(refused.value)


def test_podman_login_then_push_and_pull(berth, tmp_path, runroot):  # noqa: F811 (fixture)
    layout, _ = image_layout(tmp_path, nlayers=2)
    push_as(berth, tmp_path, layout, "team/podman")
    source, target = f"{berth.host}/team/podman:v1", f"{berth.host}/bob/podman:v2"
    assert podman(tmp_path, runroot, "pull", "--tls-verify=false", source).returncode != 0, "pulled without a login"
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", "bob", "-p", "wrong", berth.host)
    assert result.returncode != 0
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", "bob", "-p", "builder", berth.host)
    assert result.returncode == 0 and "Login Succeeded" in result.stdout, result.stderr
    # bob has his own namespace only.
    assert podman(tmp_path, runroot, "pull", "--tls-verify=false", source).returncode != 0, "bob pulled team/podman"
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", "alice", "-p", "wonderland", berth.host)
    assert result.returncode == 0, result.stderr
    for args in (["pull", "--tls-verify=false", source], ["tag", source, target], ["push", "--tls-verify=false", target]):
        result = podman(tmp_path, runroot, *args)
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    alice = token(berth, "repository:bob/podman:pull", auth=basic("alice", "wonderland"))["token"]
    r = berth.get("/v2/bob/podman/manifests/v2", bearer(alice), headers={"Accept": MANIFEST_ACCEPT})
    assert r.status_code == 200 and len(r.json()["layers"]) == 2, describe(r)


def test_oras_login_push_and_pull_with_a_token(berth, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    files = {"readme.txt": b"issued\n" * 100, "payload.bin": random_bytes(200_000)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    monkeypatch.chdir(src)
    client = oras.client.OrasClient(hostname=berth.host, insecure=True)
    client.login(username="bot", password="beep-boop", hostname=berth.host, config_path=str(tmp_path / "oras-config.json"))
    target = f"{berth.host}/ci/artifact:v1"
    resp = client.push(target=target, files=list(files))
    assert resp.status_code == 201, describe(resp)
    out = tmp_path / "out"
    out.mkdir()
    pulled = client.pull(target=target, outdir=str(out))
    assert sorted(os.path.basename(p) for p in pulled) == sorted(files)
    assert all((out / name).read_bytes() == data for name, data in files.items())
    assert client.get_tags(f"{berth.host}/ci/artifact") == ["v1"]


def test_docker_registry_verifies_the_issuers_tokens_with_a_certificate_of_its_key(berth, tmp_path, servers):
    certificate = tmp_path / "token.crt"
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(berth.key), "-subj", "/CN=berth issuer", "-days", "2",
                    "-out", str(certificate)], check=True, capture_output=True, timeout=30)
    port = free_port()
    config = (
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'reference-root'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: berth-integration-tests-fixed-secret\n"
        "auth:\n  token:\n"
        f"    realm: {berth.base}/auth/token\n    service: berth\n    issuer: berth\n    rootcertbundle: {certificate}\n"
    )
    reference = Server(tmp_path, config, kind="reference", label="reference")
    servers.append(reference)
    layout, image = image_layout(tmp_path)
    push_as(reference, tmp_path, layout, "ci/app", creds="bot:beep-boop")
    with pytest.raises(AssertionError):
        push_as(reference, tmp_path, layout, "ci/other", creds="reader:read-only")
    skopeo("copy", "--src-tls-verify=false", "--src-creds", "reader:read-only", f"docker://{reference.host}/ci/app:v1",
           f"oci:{tmp_path / 'back'}:v1", tmp_path=tmp_path)
    assert read_layout(tmp_path / "back", "v1")[0] == image["manifest"]


def test_over_tls_the_realm_is_https_and_skopeo_logs_in_and_copies(tmp_path, users):
    certs = make_ca_and_server_cert(tmp_path / "certs")
    port = free_port()
    config = tmp_path / "tls.yml"
    config.write_text(issuer_config(tmp_path / "root", f"127.0.0.1:{port}", users, tmp_path / "keys" / "token.pem", tls=certs))
    base = f"https://127.0.0.1:{port}"
    with open(tmp_path / "tls.log", "ab") as log:
        proc = subprocess.Popen([berth_binary(), "serve", "--config", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        def challenged():
            assert proc.poll() is None, (tmp_path / "tls.log").read_text()
            try:
                return requests.get(base + "/v2/", verify=certs["ca"], timeout=TIMEOUT).status_code == 401
            except requests.ConnectionError:
                return False
        wait_for(challenged, "Berth answering over TLS", timeout=30)
        r = requests.get(base + "/v2/", verify=certs["ca"], timeout=TIMEOUT)
        assert r.headers["WWW-Authenticate"] == f'Bearer realm="{base}/auth/token",service="berth"', describe(r)
        certdir = tmp_path / "skopeo-certs"
        certdir.mkdir()
        (certdir / "ca.crt").write_bytes(open(certs["ca"], "rb").read())
        layout, image = image_layout(tmp_path)
        assert b"Login Succeeded" in skopeo("login", "--cert-dir", str(certdir), "-u", "bot", "-p", "beep-boop", f"127.0.0.1:{port}",
                                            tmp_path=tmp_path)
        skopeo("copy", "--dest-cert-dir", str(certdir), f"oci:{layout.path}:v1", f"docker://127.0.0.1:{port}/ci/app:v1", tmp_path=tmp_path)
        skopeo("copy", "--src-cert-dir", str(certdir), f"docker://127.0.0.1:{port}/ci/app:v1", f"oci:{tmp_path / 'back'}:v1",
               tmp_path=tmp_path)
        assert read_layout(tmp_path / "back", "v1")[0] == image["manifest"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


@pytest.fixture
def dockerd(tmp_path):
    daemon = Dockerd(tmp_path)
    yield daemon
    daemon.stop()


def image_tar():
    """A one-file root file system for `docker import`."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        payload = random_bytes(50_000)
        entry = tarfile.TarInfo("hello.bin")
        entry.size = len(payload)
        tar.addfile(entry, io.BytesIO(payload))
    return data.getvalue()


def test_docker_login_push_and_pull_through_the_issuer(dockerd, berth, tmp_path):
    image = f"{berth.host}/ci/docker:v1"
    (tmp_path / "rootfs.tar").write_bytes(image_tar())
    dockerd.run("import", str(tmp_path / "rootfs.tar"), image)
    refused = dockerd.run("login", "-u", "bot", "--password-stdin", berth.host, input="wrong\n", check=False)
    assert refused.returncode != 0 and "unauthorized" in (refused.stdout + refused.stderr).lower(), refused.stderr
    result = dockerd.run("login", "-u", "bot", "--password-stdin", berth.host, input="beep-boop\n")
    assert "Login Succeeded" in result.stdout, result.stdout + result.stderr
    # docker login asked offline_token=true: the CLI keeps the refresh token, not the password, and the daemon
    # then asks for each push's token with it (oauth.md's POST, grant_type=refresh_token).
    assert "offline_token=true" in berth.logs(), "docker login did not ask for a refresh token"
    saved = json.loads((dockerd.config / "config.json").read_text())["auths"][berth.host]
    assert saved.get("identitytoken") and "beep-boop" not in base64.b64decode(saved.get("auth", "")).decode(), saved
    dockerd.run("push", image)
    assert '"POST /auth/token" 200' in berth.logs(), "the push's token was not asked with the refresh token"
    # bot pushes to ci/* only.
    other = image.replace("/ci/", "/team/")
    dockerd.run("tag", image, other)
    denied = dockerd.run("push", other, check=False)
    assert denied.returncode != 0, denied.stdout
    dockerd.run("rmi", image, other)
    dockerd.run("pull", image)
    alice = token(berth, "repository:ci/docker:pull", auth=basic("alice", "wonderland"))["token"]
    assert berth.get("/v2/ci/docker/tags/list", bearer(alice)).json()["tags"] == ["v1"]
