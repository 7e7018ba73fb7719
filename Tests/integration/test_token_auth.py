"""auth.token as registry:2 has it: a Bearer JWT of the configured issuer, signed by a key whose certificate chain
(x5c) ends in the `rootcertbundle`, or whose libtrust id (kid) is a bundle certificate's key, with `aud` the service,
`iss` the issuer, `exp`/`nbf` with 60 s of leeway, and an `access` claim granting the route's actions. A separate token
server process (tokenserver.py: docker's token spec, PyJWT) hands out the tokens the real clients ask for (skopeo,
podman, oras-py); curl-like checks with hand-made tokens cover the rest; Debian's docker-registry on the same
configuration answers the same tokens the same way (but for 403 DENIED: see TokenGate). A mirror and Kraken's
namespaces go through the same checks, and a client's Authorization never reaches an upstream; over TLS too.
A Berth without auth.token refuses every configuration here at start, so each test fails there."""
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import oras.client
import pytest
import requests

from conftest import berth_binary
from imagebuild import Layout, read_layout, skopeo
from mirrorutil import make_ca_and_server_cert
from regutil import OCI_MANIFEST, TIMEOUT, describe, digest_of, free_port, random_bytes, wait_for
from test_htpasswd import Server, podman
from tokenserver import ISSUER, SERVICE, TokenKeys, TokenServer

pytestmark = pytest.mark.berth_only  # starts Berth (and docker-registry) itself with its own configuration

ALICE = ("alice", "wonderland")   # pull, push and delete on team/*, and the catalog
READER = ("reader", "reads")      # pull on team/* only
USERS = {
    "alice": {"password": "wonderland", "rules": [["repository", "team/*", ["pull", "push", "delete"]],
                                                  ["registry", "catalog", ["*"]]]},
    "reader": {"password": "reads", "rules": [["repository", "team/*", ["pull"]]]},
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    made = TokenKeys(tmp_path_factory.mktemp("token-keys"))
    # The CA (x5c chains end there) and the RSA signer's own certificate (its kid is trusted); the P-256 signer's
    # certificate is not in it: its tokens are trusted through their x5c chain only, as in registry:2.
    made.bundle("ca", "rsa")
    return made


@pytest.fixture
def tokens(keys):
    server = TokenServer(keys, USERS)
    yield server
    server.stop()


@pytest.fixture
def servers():
    started = []
    yield started
    for server in started:
        server.stop()


def token_config(root, addr, keys, realm, extra="", http_extra=""):
    """A config.yml as registry:2's documentation writes one for token authentication; `extra` goes below
    auth.token, `http_extra` below http."""
    return (
        "version: 0.1\n"
        "log:\n  level: info\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {addr}\n  secret: berth-integration-tests-fixed-secret\n"
        + http_extra +
        "auth:\n"
        "  token:\n"
        f"    realm: {realm}\n"
        f"    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n"
        f"    rootcertbundle: {keys.path('bundle.pem')}\n"
        + extra
    )


def start(servers, tmp_path, keys, realm, kind="berth", label=None, extra=""):
    label = label or kind
    config = token_config(tmp_path / f"{label}-root", f"127.0.0.1:{free_port()}", keys, realm, extra)
    server = Server(tmp_path, config, kind=kind, label=label)
    servers.append(server)
    return server


@pytest.fixture
def berth(servers, tmp_path, keys, tokens):
    return start(servers, tmp_path, keys, tokens.realm)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def token_from(tokens, user, *scopes):
    r = requests.get(tokens.realm, params={"service": SERVICE, "scope": list(scopes)}, auth=user, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    return r.json()["token"]


def codes(r):
    return [e["code"] for e in r.json()["errors"]]


def challenge(tokens, scope=None, error=None):
    value = f'Bearer realm="{tokens.realm}",service="{SERVICE}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return value


def push_image(host, repository, tmp_path, creds, nlayers=2):
    layout = Layout(tmp_path / f"src-{repository.replace('/', '-')}")
    image = layout.add_image(nlayers=nlayers)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ":".join(creds), f"oci:{layout.path}:v1",
           f"docker://{host}/{repository}:v1", tmp_path=tmp_path)
    return image


def test_without_a_token_every_route_is_401_with_registry2s_challenge_naming_its_scope(berth, tokens):
    r = berth.get("/v2/")
    assert r.status_code == 401 and codes(r) == ["UNAUTHORIZED"], describe(r)
    assert r.headers["WWW-Authenticate"] == challenge(tokens)
    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    for method, path, scope in [
        ("GET", "/v2/team/app/manifests/v1", "repository:team/app:pull"),
        ("HEAD", "/v2/team/app/blobs/sha256:" + "0" * 64, "repository:team/app:pull"),
        ("POST", "/v2/team/app/blobs/uploads/", "repository:team/app:pull,push"),
        ("POST", "/v2/team/app/blobs/uploads/?mount=sha256:" + "0" * 64 + "&from=team/base",
         "repository:team/app:pull,push repository:team/base:pull"),
        ("DELETE", "/v2/team/app/manifests/sha256:" + "0" * 64, "repository:team/app:delete"),
        ("GET", "/v2/_catalog", "registry:catalog:*"),
        ("GET", "/namespace/team%2Fmodels/blobs/sha256:" + "0" * 64, "repository:team/models:pull"),
    ]:
        r = requests.request(method, berth.base + path, timeout=TIMEOUT)
        assert r.status_code == 401, f"{method} {path}: {describe(r)}"
        assert r.headers["WWW-Authenticate"] == challenge(tokens, scope), f"{method} {path}"
    for path in ("/healthz", "/readyz", "/metrics"):
        assert berth.get(path).status_code == 200, path


def test_skopeo_copies_with_creds_through_the_token_flow_and_a_wrong_password_gets_no_token(berth, tokens, tmp_path):
    image = push_image(berth.host, "team/app", tmp_path, ALICE)
    skopeo("copy", "--src-tls-verify=false", "--src-creds", ":".join(READER), f"docker://{berth.host}/team/app:v1",
           f"oci:{tmp_path / 'back'}:v1", tmp_path=tmp_path)
    manifest, _, blobs = read_layout(tmp_path / "back", "v1")
    assert manifest == image["manifest"]
    assert all(blobs[digest_of(layer)] == layer for layer in image["layers"])
    asked = tokens.requests()
    assert any(r["user"] == "alice" and "repository:team/app:pull,push" in r["scopes"] for r in asked), asked
    (tmp_path / "other").mkdir()
    with pytest.raises(AssertionError) as refused:
        skopeo("copy", "--src-tls-verify=false", "--src-creds", "reader:not-the-password",
               f"docker://{berth.host}/team/app:v1", f"oci:{tmp_path / 'again'}:v1", tmp_path=tmp_path / "other")
    assert "401" in str(refused.value) or "unauthorized" in str(refused.value).lower(), str(refused.value)
    assert tokens.requests()[-1]["user"] is None, "the issuer gave no token for a wrong password"
    # Tokens are never logged.
    token = token_from(tokens, READER, "repository:team/app:pull")
    assert berth.get("/v2/team/app/manifests/v1", headers={**bearer(token), "Accept": OCI_MANIFEST}).status_code == 200
    assert token.split(".")[2] not in berth.logs()


def test_a_token_without_push_is_denied_on_push_and_served_on_pull(berth, tokens, tmp_path):
    push_image(berth.host, "team/app", tmp_path, ALICE)
    token = token_from(tokens, READER, "repository:team/app:pull,push")
    r = requests.post(berth.base + "/v2/team/app/blobs/uploads/", headers=bearer(token), timeout=TIMEOUT)
    assert r.status_code == 403 and codes(r) == ["DENIED"], describe(r)
    assert r.headers["WWW-Authenticate"] == challenge(tokens, "repository:team/app:pull,push", "insufficient_scope")
    r = requests.put(berth.base + "/v2/team/app/manifests/v2", headers={**bearer(token), "Content-Type": OCI_MANIFEST},
                     data=b"{}", timeout=TIMEOUT)
    assert r.status_code == 403 and codes(r) == ["DENIED"], describe(r)
    r = berth.get("/v2/team/app/manifests/v1", headers={**bearer(token), "Accept": OCI_MANIFEST})
    assert r.status_code == 200, describe(r)
    assert berth.get("/v2/team/app/tags/list", headers=bearer(token)).json()["tags"] == ["v1"]
    # A repository the token does not name: 401 with the scope to ask for, as registry:2 answers.
    r = berth.get("/v2/team/other/manifests/v1", headers=bearer(token))
    assert r.status_code == 401, describe(r)
    assert r.headers["WWW-Authenticate"] == challenge(tokens, "repository:team/other:pull", "insufficient_scope")
    # And a real client: skopeo asks for pull,push, gets pull only, and the push is refused.
    with pytest.raises(AssertionError) as refused:
        push_image(berth.host, "team/app", tmp_path / "reader", READER)
    assert "denied" in str(refused.value).lower(), str(refused.value)


def test_expired_future_foreign_and_misaddressed_tokens_are_401_invalid_token(berth, keys, tokens):
    pull = [("repository", "team/app", ["pull"])]
    path = "/v2/team/app/tags/list"
    scope = "repository:team/app:pull"
    good = keys.mint("alice", pull)
    assert berth.get(path, headers=bearer(good)).status_code == 404  # granted: the repository is unknown
    refused = {
        "expired beyond the leeway": keys.mint("alice", pull, expires_in=-61 - 5),
        "not valid for another two minutes": keys.mint("alice", pull, not_before=int(time.time()) + 120),
        "signed by a key outside the bundle (x5c self-signed)": keys.mint("alice", pull, signer="other"),
        "signed by a key outside the bundle (kid)": keys.mint("alice", pull, signer="other", header="kid"),
        "the P-256 signer named by kid alone (only its CA is in the bundle)": keys.mint("alice", pull, header="kid"),
        "another audience": keys.mint("alice", pull, audience="another-service"),
        "another issuer": keys.mint("alice", pull, issuer="someone-else"),
        "a jwk header": keys.mint("alice", pull, header={"jwk": {"kty": "EC"}}),
        "no key named": keys.mint("alice", pull, header={}),
        "not a JWT": "not-a-token",
        "a tampered claim set": ".".join([good.split(".")[0], keys.mint("alice", [("repository", "team/app", ["*"])]).split(".")[1],
                                          good.split(".")[2]]),
    }
    for what, token in refused.items():
        r = berth.get(path, headers=bearer(token))
        assert r.status_code == 401 and codes(r) == ["UNAUTHORIZED"], f"{what}: {describe(r)}"
        assert r.headers["WWW-Authenticate"] == challenge(tokens, scope, "invalid_token"), what
    # The RSA signer's own certificate is in the bundle: its kid alone is trusted (libtrust's key id).
    assert berth.get(path, headers=bearer(keys.mint("alice", pull, signer="rsa", header="kid"))).status_code == 404
    assert berth.get(path, headers=bearer(keys.mint("alice", pull, signer="rsa"))).status_code == 404
    # Within the leeway.
    assert berth.get(path, headers=bearer(keys.mint("alice", pull, expires_in=-30))).status_code == 404


def test_the_catalog_needs_registry_catalog_star(berth, keys, tokens, tmp_path):
    push_image(berth.host, "team/app", tmp_path, ALICE, nlayers=1)
    r = berth.get("/v2/_catalog", headers=bearer(keys.mint("alice", [("repository", "team/app", ["*"])])))
    assert r.status_code == 401, describe(r)
    assert r.headers["WWW-Authenticate"] == challenge(tokens, "registry:catalog:*", "insufficient_scope")
    r = berth.get("/v2/_catalog", headers=bearer(keys.mint("alice", [("registry", "catalog", ["pull"])])))
    assert r.status_code == 403 and codes(r) == ["DENIED"], describe(r)
    r = berth.get("/v2/_catalog", headers=bearer(token_from(tokens, ALICE, "registry:catalog:*")))
    assert r.status_code == 200 and r.json()["repositories"] == ["team/app"], describe(r)
    r = berth.get("/v2/_catalog", headers=bearer(token_from(tokens, READER, "registry:catalog:*")))
    assert r.status_code == 403, "the issuer granted reader nothing of the catalog: " + describe(r)
    # /v2/ needs only a valid token.
    assert berth.get("/v2/", headers=bearer(keys.mint("nobody", []))).status_code == 200


def test_a_cross_repository_mount_needs_pull_on_the_source(berth, keys, tmp_path):
    image = push_image(berth.host, "team/base", tmp_path, ALICE, nlayers=1)
    layer = digest_of(image["layers"][0])
    url = f"{berth.base}/v2/team/app/blobs/uploads/?mount={layer}&from=team/base"
    only_target = keys.mint("alice", [("repository", "team/app", ["pull", "push"])])
    r = requests.post(url, headers=bearer(only_target), timeout=TIMEOUT)
    assert r.status_code == 401 and "repository:team/base:pull" in r.headers["WWW-Authenticate"], describe(r)
    both = keys.mint("alice", [("repository", "team/app", ["pull", "push"]), ("repository", "team/base", ["pull"])])
    r = requests.post(url, headers=bearer(both), timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)


@pytest.fixture
def runroot():
    with tempfile.TemporaryDirectory(prefix="berth-pm-", dir="/tmp") as path:
        yield path


def test_podman_login_then_push_and_pull(berth, tokens, tmp_path, runroot):
    push_image(berth.host, "team/podman", tmp_path, ALICE)
    source, target = f"{berth.host}/team/podman:v1", f"{berth.host}/team/podman-copy:v2"
    assert podman(tmp_path, runroot, "pull", "--tls-verify=false", source).returncode != 0, "pulled without a login"
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", ALICE[0], "-p", ALICE[1], berth.host)
    assert result.returncode == 0 and "Login Succeeded" in result.stdout, result.stderr
    for args in (["pull", "--tls-verify=false", source], ["tag", source, target], ["push", "--tls-verify=false", target]):
        result = podman(tmp_path, runroot, *args)
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    r = berth.get("/v2/team/podman-copy/manifests/v2",
                  headers={**bearer(token_from(tokens, READER, "repository:team/podman-copy:pull")),
                           "Accept": OCI_MANIFEST + ",application/vnd.docker.distribution.manifest.v2+json"})
    assert r.status_code == 200 and len(r.json()["layers"]) == 2, describe(r)
    result = podman(tmp_path, runroot, "login", "--tls-verify=false", "-u", ALICE[0], "-p", "wrong", berth.host)
    assert result.returncode != 0


def test_oras_py_pushes_and_pulls_with_a_token(berth, tokens, tmp_path, monkeypatch):
    source = tmp_path / "oras-src"
    source.mkdir()
    payload = random_bytes(200_000)
    (source / "payload.bin").write_bytes(payload)
    monkeypatch.chdir(source)  # oras-py pushes paths relative to the working directory
    client = oras.client.OrasClient(hostname=berth.host, insecure=True)
    client.login(username=ALICE[0], password=ALICE[1], hostname=berth.host, tls_verify=False,
                 config_path=str(tmp_path / "oras-alice.json"))
    resp = client.push(target=f"{berth.host}/team/artifact:v1", files=["payload.bin"])
    assert resp.status_code == 201, describe(resp)
    out = tmp_path / "oras-out"
    out.mkdir()
    reader = oras.client.OrasClient(hostname=berth.host, insecure=True)
    reader.login(username=READER[0], password=READER[1], hostname=berth.host, tls_verify=False,
                 config_path=str(tmp_path / "oras-reader.json"))
    pulled = reader.pull(target=f"{berth.host}/team/artifact:v1", outdir=str(out))
    assert [open(path, "rb").read() for path in pulled] == [payload]
    assert any(r["user"] == "reader" for r in tokens.requests())


def _kraken_upload(base, namespace, blob, headers):
    digest = digest_of(blob)
    r = requests.post(f"{base}/namespace/{namespace}/blobs/{digest}/uploads", headers=headers, timeout=TIMEOUT)
    if r.status_code != 200:
        return r
    uid = r.headers["Location"]
    r = requests.patch(f"{base}/namespace/{namespace}/blobs/{digest}/uploads/{uid}", data=blob, timeout=TIMEOUT,
                       headers={**headers, "Content-Range": f"0-{len(blob)}", "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, describe(r)
    return requests.put(f"{base}/namespace/{namespace}/blobs/{digest}/uploads/{uid}?through=false", headers=headers,
                        timeout=TIMEOUT)


def test_kraken_namespaces_are_repositories_to_a_token(berth, keys, tokens):
    blob = random_bytes(100_000)
    digest = digest_of(blob)
    url = f"{berth.base}/namespace/team%2Fmodels/blobs/{digest}"
    reader = bearer(keys.mint("reader", [("repository", "team/models", ["pull"])]))
    r = _kraken_upload(berth.base, "team%2Fmodels", blob, reader)
    assert r.status_code == 403 and codes(r) == ["DENIED"], describe(r)
    writer = bearer(keys.mint("alice", [("repository", "team/models", ["pull", "push"])]))
    assert _kraken_upload(berth.base, "team%2Fmodels", blob, writer).status_code == 200
    assert requests.get(url, timeout=TIMEOUT).status_code == 401
    r = requests.get(url, headers=reader, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    other = bearer(keys.mint("reader", [("repository", "team/other", ["pull"])]))
    r = requests.get(url, headers=other, timeout=TIMEOUT)
    assert r.status_code == 401, describe(r)
    assert r.headers["WWW-Authenticate"] == challenge(tokens, "repository:team/models:pull", "insufficient_scope")


class RecordingUpstream:
    """An open registry upstream that serves the blobs it is given under any repository and records the headers
    of every request it gets."""

    def __init__(self, blobs):
        self.blobs = {digest_of(b): b for b in blobs}
        self.seen = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                upstream.seen.append((self.command, self.path, dict(self.headers)))
                match = re.fullmatch(r"/v2/(.+)/blobs/(sha256:[0-9a-f]{64})", self.path)
                if self.path == "/v2/":
                    body, status = b"{}", 200
                elif match and match.group(2) in upstream.blobs:
                    body, status = upstream.blobs[match.group(2)], 200
                else:
                    body, status = b'{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}', 404
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_mirror_checks_tokens_per_repository_and_never_forwards_the_clients_authorization(servers, tmp_path, keys,
                                                                                            tokens):
    blob = random_bytes(50_000)
    digest = digest_of(blob)
    upstream = RecordingUpstream([blob])
    try:
        mirror = start(servers, tmp_path, keys, tokens.realm, label="mirror",
                       extra=f"proxy:\n  remoteurl: {upstream.url}\n")
        library = keys.mint("alice", [("repository", "library/app", ["pull"])])
        r = mirror.get(f"/v2/library/app/blobs/{digest}", headers=bearer(library))
        assert r.status_code == 200 and r.content == blob, describe(r)
        # Cached now; another repository's name still needs its own grant.
        r = mirror.get(f"/v2/library/other/blobs/{digest}", headers=bearer(library))
        assert r.status_code == 401 and "repository:library/other:pull" in r.headers["WWW-Authenticate"], describe(r)
        assert mirror.get(f"/v2/library/app/blobs/{digest}").status_code == 401
        other = keys.mint("alice", [("repository", "library/other", ["pull"])])
        r = mirror.get(f"/v2/library/other/blobs/{digest}", headers=bearer(other))
        assert r.status_code == 200 and r.content == blob, describe(r)
        # A mirror takes no pushes, whatever the token grants: the gate first, then the mirror's refusal.
        pusher = keys.mint("alice", [("repository", "library/app", ["pull", "push"])])
        r = requests.post(mirror.base + "/v2/library/app/blobs/uploads/", headers=bearer(pusher), timeout=TIMEOUT)
        assert r.status_code == 405, describe(r)
        assert upstream.seen, "the mirror fetched nothing upstream"
        for method, path, headers in upstream.seen:
            assert "Authorization" not in headers and "authorization" not in {h.lower() for h in headers}, (method, path, headers)
            assert all(library not in value and other not in value for value in headers.values()), (method, path)
    finally:
        upstream.stop()


def test_verified_tokens_are_cached_and_counted(berth, keys, tokens):
    token = keys.mint("alice", [("repository", "team/app", ["pull"])])
    with requests.Session() as session:  # one connection, so one worker and its cache
        for _ in range(20):
            r = session.get(berth.base + "/v2/team/app/tags/list", headers=bearer(token), timeout=TIMEOUT)
            assert r.status_code == 404
        r = session.get(berth.base + "/v2/team/app/tags/list", headers=bearer(keys.mint("alice", [], signer="other")),
                        timeout=TIMEOUT)
        assert r.status_code == 401
        assert session.get(berth.base + "/v2/team/other/tags/list", headers=bearer(token), timeout=TIMEOUT).status_code == 401
    expected = {"berth_auth_tokens_accepted_total": "1", "berth_auth_tokens_rejected_total": "1",
                "berth_auth_access_denied_total": "1"}

    def counted():
        samples = dict(re.findall(r"^(berth_auth_[a-z_]+_total) (\d+)$", berth.get("/metrics").text, re.M))
        return {name: samples.get(name) for name in expected} == expected

    # With several workers, the others' counters reach /metrics once a second.
    wait_for(counted, "the token counters of one verification, one refusal and one denial", timeout=15)


def test_docker_registry_answers_the_same_tokens_the_same_way(servers, tmp_path, keys, tokens):
    """registry:2 (Debian's docker-registry 2.8) on the same configuration: the same statuses, codes and challenges
    for the same tokens. The one difference, by design: a valid token that names the repository but lacks the
    action is 401 insufficient_scope there and 403 DENIED here (issue 15)."""
    berth = start(servers, tmp_path, keys, tokens.realm)
    reference = start(servers, tmp_path, keys, tokens.realm, kind="reference")
    push_image(berth.host, "team/app", tmp_path / "b", ALICE, nlayers=1)
    push_image(reference.host, "team/app", tmp_path / "r", ALICE, nlayers=1)
    pull = [("repository", "team/app", ["pull"])]
    cases = [
        ("GET", "/v2/", None),
        ("GET", "/v2/", keys.mint("alice", [])),
        ("GET", "/v2/team/app/tags/list", None),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull)),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, header="kid", signer="rsa")),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, signer="rsa")),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, header="kid")),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, expires_in=-120)),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, issuer="someone-else")),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, audience="another")),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", pull, signer="other")),
        ("GET", "/v2/team/app/tags/list", keys.mint("alice", [("repository", "team/app", ["*"])])),
        ("GET", "/v2/team/other/tags/list", keys.mint("alice", pull)),
        ("GET", "/v2/_catalog", keys.mint("alice", pull)),
        ("GET", "/v2/_catalog", keys.mint("alice", [("registry", "catalog", ["*"])])),
        ("POST", "/v2/team/app/blobs/uploads/", None),
        ("POST", "/v2/team/app/blobs/uploads/", keys.mint("alice", [("repository", "team/app", ["pull", "push"])])),
    ]
    denied = ("POST", "/v2/team/app/blobs/uploads/", keys.mint("alice", pull))
    def same_order(value):
        # registry:2 2.8 lists a scope's actions in Go's map order (pull,push or push,pull); Berth sorts them.
        if not value:
            return value
        return re.sub(r'scope="([^"]*)"', lambda m: 'scope="' + " ".join(
            ":".join(part.split(":")[:-1] + [",".join(sorted(part.split(":")[-1].split(",")))])
            for part in m.group(1).split(" ")) + '"', value)

    answers = {}
    for server in (berth, reference):
        seen = []
        for method, path, token in cases + [denied]:
            r = requests.request(method, server.base + path, headers=bearer(token) if token else {}, timeout=TIMEOUT)
            body = r.json() if r.content and r.headers.get("Content-Type", "").startswith("application/json") else None
            seen.append((method, path, r.status_code, same_order(r.headers.get("WWW-Authenticate")),
                         [e["code"] for e in body["errors"]] if isinstance(body, dict) and "errors" in body else None))
        answers[server.kind] = seen
    assert answers["berth"][:-1] == answers["reference"][:-1]
    assert answers["reference"][-1][2:5] == (401, challenge(tokens, "repository:team/app:pull,push", "insufficient_scope"),
                                             ["UNAUTHORIZED"])
    assert answers["berth"][-1][2:5] == (403, answers["reference"][-1][3], ["DENIED"])
    statuses = [answer[2] for answer in answers["berth"][:-1]]
    assert statuses.count(401) >= 8 and 200 in statuses and 202 in statuses, answers["berth"]


class TLSBerth:
    """Berth serving HTTPS (a certificate for 127.0.0.1 signed by a test CA) with token authentication; ready when
    GET https://127.0.0.1:PORT/v2/ answers 401, verified with the CA; stopped by PID."""

    def __init__(self, tmp_path, keys, realm, certs, extra="", label="tls-berth"):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"https://{self.host}"
        self.ca = certs["ca"]
        config = tmp_path / f"{label}.yml"
        config.write_text(token_config(tmp_path / f"{label}-root", self.host, keys, realm, extra,
                                       http_extra=f"  tls:\n    certificate: {certs['cert']}\n    key: {certs['key']}\n"))
        self.log_path = tmp_path / f"{label}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([berth_binary(), "serve", "--config", str(config)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)

        def ready():
            assert self.proc.poll() is None, self.log_path.read_text(errors="replace")
            try:
                return requests.get(self.base + "/v2/", verify=self.ca, timeout=2).status_code == 401
            except requests.RequestException:
                return False

        wait_for(ready, "Berth answering 401 over TLS", timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


def test_over_tls_skopeo_copies_with_a_token_and_autoredirect_names_the_https_realm(servers, tmp_path, keys, tokens):
    certs = make_ca_and_server_cert(tmp_path / "certs")
    berth = TLSBerth(tmp_path, keys, tokens.realm, certs)
    servers.append(berth)
    cert_dir = tmp_path / "certs.d"
    cert_dir.mkdir()
    shutil.copy(certs["ca"], cert_dir / "ca.crt")
    layout = Layout(tmp_path / "src")
    image = layout.add_image(nlayers=2)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    skopeo("copy", "--dest-cert-dir", str(cert_dir), "--dest-creds", ":".join(ALICE), f"oci:{layout.path}:v1",
           f"docker://{berth.host}/team/tls:v1", tmp_path=tmp_path)
    skopeo("copy", "--src-cert-dir", str(cert_dir), "--src-creds", ":".join(READER), f"docker://{berth.host}/team/tls:v1",
           f"oci:{tmp_path / 'dst'}:v1", tmp_path=tmp_path)
    manifest, _, blobs = read_layout(tmp_path / "dst", "v1")
    assert digest_of(manifest) == image["digest"]
    token = token_from(tokens, READER, "repository:team/tls:pull,push")
    r = requests.post(berth.base + "/v2/team/tls/blobs/uploads/", headers=bearer(token), verify=berth.ca, timeout=TIMEOUT)
    assert r.status_code == 403 and codes(r) == ["DENIED"], describe(r)
    berth.stop()
    # autoredirect: the realm is /auth/token on the host the client named, over the connection's scheme.
    redirected = TLSBerth(tmp_path, keys, tokens.realm, certs, extra="    autoredirect: true\n", label="redirected")
    servers.append(redirected)
    r = requests.get(redirected.base + "/v2/team/tls/tags/list", verify=redirected.ca, timeout=TIMEOUT)
    assert r.headers["WWW-Authenticate"] == (f'Bearer realm="https://{redirected.host}/auth/token",service="{SERVICE}",'
                                             'scope="repository:team/tls:pull"'), describe(r)
