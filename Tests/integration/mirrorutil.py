"""Helpers for the pull-through mirror tests (test_mirror*.py).

The upstreams are Debian's docker-registry (CNCF Distribution 2.8) on loopback ports; what they were asked
is read from their access log, one line per request once it is answered:

    127.0.0.1 - - [25/Nov/2026:10:10:11 +0000] "GET /v2/foo/blobs/sha256:... HTTP/1.1" 200 157 "" "berth-mirror"

Berth is started with a config file of the test's (`proxy:`, `mirrors:`, `gc:`), its own empty root and the
instance's port. Images are built in Python (imagebuild.Layout), pushed to the upstream with skopeo and pulled
back through Berth with skopeo, then compared byte for byte.

Nothing here asserts on time: timeouts only guard against hangs, and durations are printed.
"""

import base64
import hashlib
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import READY_TIMEOUT, REFERENCE_HTTP_SECRET, Registry
from imagebuild import Layout, canonical_json, copy_from_registry, copy_to_registry, read_layout
from regutil import OCI_MANIFEST, describe, digest_of

MiB = 1 << 20
TIMEOUT = 60  # seconds, only to avoid hangs

# The Accept headers real clients send for manifests.
DOCKER_DAEMON_ACCEPT = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
]
CONTAINERD_ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
                     "application/vnd.docker.distribution.manifest.list.v2+json, "
                     "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*")


# --- Berth as a mirror ---------------------------------------------------------------------------
def write_mirror_config(tmp_path, name="mirror", *, remoteurl=None, username=None, password=None, ttl=None,
                        cafile=None, timeout=None, maxsize=None, mirrors=None, gc_interval=None, extra=""):
    """A Berth config file with a `proxy:` section and/or a `mirrors:` map (host -> URL)."""
    proxy = []
    if remoteurl is not None:
        proxy.append(f"  remoteurl: '{remoteurl}'")
    if username is not None:
        proxy += [f"  username: '{username}'", f"  password: '{password}'"]
    if ttl is not None:
        proxy.append(f"  ttl: {ttl}")
    if cafile is not None:
        proxy.append(f"  cafile: '{cafile}'")
    if timeout is not None:
        proxy.append(f"  timeout: {timeout}")
    if maxsize is not None:
        proxy.append(f"  cache:\n    maxsize: {maxsize}")
    text = "log: {level: info}\n"
    if proxy:
        text += "proxy:\n" + "\n".join(proxy) + "\n"
    if mirrors:
        text += "mirrors:\n" + "".join(f"  {host}: '{url}'\n" for host, url in mirrors.items())
    if gc_interval is not None:
        text += f"gc:\n  interval: {gc_interval}\n"
    text += extra
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def start_mirror(start_berth, tmp_path, config, name="mirror", workers=None):
    """Berth with this config and an empty root of its own: (registry, root).
    The fixture's own --config comes first; this one, given last, is the one read (addr and root by flag)."""
    root = tmp_path / f"{name}-root"
    args = ["--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(root)]
    if workers:
        # Berth-Worker, which wait_for_workers reads, is sent only at debug.
        args += ["--workers", str(workers), "--log-level", "debug"]
    berth = start_berth(*args)
    if workers and int(workers) > 1:
        wait_for_workers(berth, int(workers))
    return berth, root


def wait_for_workers(berth, workers, wait=30.0):
    """Until each of the worker processes has answered GET /v2/ on a fresh connection (a worker that is not
    listening yet leaves its share of new connections to the others)."""
    seen = set()
    deadline = time.monotonic() + wait
    while len(seen) < workers and time.monotonic() < deadline:
        try:
            r = requests.get(berth.url("/v2/"), headers={"Connection": "close"}, timeout=5)
            seen.add(r.headers.get("Berth-Worker"))
        except requests.RequestException:
            pass
        if len(seen) < workers:
            time.sleep(0.02)
    assert len(seen) == workers, f"only worker(s) {sorted(map(str, seen))} of {workers} answered within {wait}s"


def tag_link(root, name, tag):
    """The registry:2 layout's tag link of a cached repository (None when it is not there)."""
    path = os.path.join(str(root), "docker", "registry", "v2", "repositories", *name.split("/"),
                        "_manifests", "tags", tag, "current", "link")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip()


def repositories_on_disk(root):
    """Every repository of the layout (a directory holding _manifests or _layers), as a name."""
    base = os.path.join(str(root), "docker", "registry", "v2", "repositories")
    found = []
    for directory, subdirs, _ in os.walk(base):
        if "_manifests" in subdirs or "_layers" in subdirs:
            found.append(os.path.relpath(directory, base))
            subdirs[:] = [d for d in subdirs if not d.startswith("_")]
    return sorted(found)


def blob_path(root, digest):
    hex_ = digest.split(":")[1]
    return os.path.join(str(root), "docker", "registry", "v2", "blobs", "sha256", hex_[:2], hex_, "data")


def downloads_path(root):
    """Where the mirror keeps its downloads in progress (a lock and a partial file per blob)."""
    return os.path.join(str(root), "docker", "registry", "v2", "berth-mirror", "downloads")


def blobs_dir_size(root):
    """Bytes of the regular files under <root>/docker/registry/v2/blobs (hard links counted once)."""
    base = os.path.join(str(root), "docker", "registry", "v2", "blobs")
    seen, total = set(), 0
    for directory, _, files in os.walk(base):
        for name in files:
            try:
                st = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen or not os.path.isfile(os.path.join(directory, name)):
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


# --- the upstream's access log ---------------------------------------------------------------------
_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/1\.[01]" (?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"')
# The test's own clients (the test reading the upstream directly, skopeo pushing to it): not Berth.
TEST_AGENTS = ("python-requests/", "skopeo/")


def upstream_requests(upstream, everyone=False):
    """[(method, path, query, status)] of the requests in the upstream's access log, path %-decoded:
    those of Berth (every client but the test's own requests and skopeo), or of everyone."""
    out = []
    for line in upstream.logs().splitlines():
        m = _ACCESS.search(line)
        if not m or (not everyone and m["agent"].startswith(TEST_AGENTS)):
            continue
        parts = urllib.parse.urlsplit(m["target"])
        out.append((m["method"], urllib.parse.unquote(parts.path), parts.query, int(m["status"])))
    return out


def count_requests(upstream, method, path, statuses=None):
    """How many times Berth asked the upstream `method path` (by its access log)."""
    return sum(1 for m, p, _, s in upstream_requests(upstream)
               if m == method and p == path and (statuses is None or s in statuses))


def settled_count(upstream, method, path, statuses=None, at_least=1, wait=10.0):
    """The count once the upstream has logged `at_least` such requests (it logs after answering)
    and then nothing more for a second."""
    deadline = time.monotonic() + wait
    count = count_requests(upstream, method, path, statuses)
    while count < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
        count = count_requests(upstream, method, path, statuses)
    while True:
        time.sleep(1.0)
        again = count_requests(upstream, method, path, statuses)
        if again == count:
            return count
        count = again


def settle_log(upstream, quiet=1.0, wait=15.0):
    """Wait until the upstream's log has not grown for `quiet` seconds."""
    deadline = time.monotonic() + wait
    size = len(upstream.logs())
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = len(upstream.logs())
        if again == size:
            return
        size = again


# --- images ------------------------------------------------------------------------------------------
def build_image(path, tag, nlayers=3, layer_size=60_000, arch="amd64"):
    """An OCI layout at `path` holding one image tagged `tag` whose layers are gzip'd tars of random data
    (incompressible: each layer is a little over `layer_size` bytes). Returns the image, with `layout`,
    `blobs` ({digest: bytes} of config and layers) and `size` (their total bytes)."""
    layout = Layout(path)
    image = layout.add_image(nlayers, arch, nfiles=1, layer_size=layer_size,
                             history=f"berth mirror test {uuid.uuid4().hex[:8]}")
    manifest, config, layers = image["manifest"], image["config"], image["layers"]
    layout.tag(tag, OCI_MANIFEST, manifest)
    blobs = {digest_of(config): config, **{digest_of(gz): gz for gz in layers}}
    return {"layout": layout, "tag": tag, "manifest": manifest, "digest": image["digest"],
            "media_type": OCI_MANIFEST, "config": config, "layers": layers,
            "blobs": blobs, "size": sum(len(b) for b in blobs.values())}


def push_to_upstream(image, upstream, ref, tmp_path, *extra):
    """skopeo copy of the image's layout to the upstream as `ref` (repo:tag)."""
    started = time.monotonic()
    copy_to_registry(f"oci:{image['layout'].path}:{image['tag']}", upstream, ref, *extra, tmp_path=tmp_path)
    print(f"pushed {ref} ({image['size']} bytes of blobs) to {upstream.label} in {time.monotonic() - started:.2f}s")


def pull_through(berth, ref, dest, tmp_path, *extra):
    """skopeo copy from Berth to an OCI layout: (manifest bytes, media type, {digest: bytes})."""
    tag = ref.rsplit(":", 1)[1]
    started = time.monotonic()
    copy_from_registry(berth, ref, f"oci:{dest}:{tag}", *extra, tmp_path=tmp_path)
    print(f"pulled {ref} through {berth.label} in {time.monotonic() - started:.2f}s")
    return read_layout(dest, tag)


def assert_same_image(pulled, image):
    """What skopeo pulled is the image, byte for byte: manifest, config and every layer."""
    manifest, media_type, blobs = pulled
    assert media_type == image["media_type"]
    assert manifest == image["manifest"], "the pulled manifest differs from the pushed one"
    assert digest_of(manifest) == image["digest"]
    expected = {**image["blobs"], image["digest"]: image["manifest"]}
    assert sorted(blobs) == sorted(expected), f"pulled blobs {sorted(blobs)} != pushed {sorted(expected)}"
    for d, data in expected.items():
        assert blobs[d] == data, f"blob {d} differs"


def assert_upstream_has(upstream, repo, image, session=requests, **kwargs):
    """The upstream serves this very image under `repo` (its manifest and blobs hash to the same digests)."""
    r = session.get(f"{upstream.base_url}/v2/{repo}/manifests/{image['digest']}",
                    headers={"Accept": image["media_type"]}, timeout=TIMEOUT, **kwargs)
    assert r.status_code == 200 and r.content == image["manifest"], describe(r)
    for d, data in image["blobs"].items():
        r = session.get(f"{upstream.base_url}/v2/{repo}/blobs/{d}", timeout=TIMEOUT, **kwargs)
        assert r.status_code == 200 and digest_of(r.content) == d, describe(r)


# --- metrics -----------------------------------------------------------------------------------------
def metric_samples(berth):
    r = requests.get(berth.url("/metrics"), timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def wait_for_metrics(berth, condition, wait=10.0, settle=1.5):
    """Scrape until condition(samples) holds or `wait` passes, then once more `settle` seconds later: each
    worker publishes its figures once a second, so by then every worker's share is in. The last scrape."""
    deadline = time.monotonic() + wait
    while not condition(metric_samples(berth)) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(settle)
    return metric_samples(berth)


# --- TLS and token auth for an upstream --------------------------------------------------------------
def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=str(cwd), capture_output=True, timeout=60)
    assert p.returncode == 0, f"openssl {' '.join(args)} failed: {p.stderr.decode(errors='replace')}"
    return p.stdout


def make_ca_and_server_cert(directory):
    """A CA (ca.pem, ca.key) and a server certificate for 127.0.0.1 and localhost signed by it (server.pem, server.key),
    made with the openssl CLI. Returns their paths."""
    d = str(directory)
    os.makedirs(d, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Berth mirror tests CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=d)
    return {"ca": os.path.join(d, "ca.pem"), "ca_key": os.path.join(d, "ca.key"),
            "cert": os.path.join(d, "server.pem"), "key": os.path.join(d, "server.key")}


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """A Docker registry token service (the `auth.token.realm` of docker-registry), listening on 127.0.0.1
    over plain HTTP, or over TLS with `certs` (make_ca_and_server_cert's); `realm_host` is the host name its
    realm names (127.0.0.1, or localhost for another host than an upstream on 127.0.0.1). Basic credentials
    of `users` get a JWT (RS256, signed with the openssl CLI, the signing certificate in the header's `x5c`)
    granting what `scope` asks for; anything else gets 401.
    `requests` records (user or None, [scopes], granted) for each request."""

    service = "berth-mirror-tests"
    issuer = "berth-mirror-tests-issuer"

    def __init__(self, directory, users, *, certs=None, realm_host="127.0.0.1"):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.users = dict(users)
        self.key = os.path.join(self.dir, "token.key")
        self.cert = os.path.join(self.dir, "token.pem")  # also the registry's rootcertbundle
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
                "-days", "2", "-subj", "/CN=berth mirror tests token signer", cwd=self.dir)
        der = openssl("x509", "-in", self.cert, "-outform", "DER", cwd=self.dir)
        self.x5c = [base64.b64encode(der).decode()]
        self.requests = []
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                service._answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if certs:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certs["cert"], certs["key"])
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.realm = f"{'https' if certs else 'http'}://{realm_host}:{self.port}/token"
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread:
            self.server.shutdown()
            self.thread.join(10)
            self.thread = None
        self.server.server_close()

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.x5c}
        signing_input = f"{_b64url(canonical_json(header))}.{_b64url(canonical_json(claims))}"
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return f"{signing_input}.{_b64url(p.stdout)}"

    def _answer(self, handler):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        user = None
        auth = handler.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except Exception:
                name, password = None, None
            if name is not None and self.users.get(name) == password:
                user = name
            else:
                user = f"!{name}"  # wrong credentials
        granted = user is not None and not user.startswith("!")
        with self.lock:
            self.requests.append((user, scopes, granted))
        if not granted:
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required",
                                           "detail": None}]}).encode()
            handler.send_response(401)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("WWW-Authenticate", 'Basic realm="berth mirror tests"')
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        token = self.sign({"iss": self.issuer, "sub": user, "aud": query.get("service", [self.service])[0],
                           "exp": now + 600, "nbf": now - 30, "iat": now, "jti": uuid.uuid4().hex,
                           "access": access})
        body = json.dumps({"token": token, "access_token": token, "expires_in": 600,
                           "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class TLSTokenReference(Registry):
    """docker-registry serving HTTPS (certificate for 127.0.0.1 signed by a test CA) behind a token service.
    Ready when GET https://127.0.0.1:PORT/v2/ answers 401 with a Bearer challenge, verified with the CA."""

    def __init__(self, workdir, *, certs, tokens, label="upstream"):
        self.certs = certs
        self.tokens = tokens
        super().__init__("reference", workdir, label=label)
        self.base_url = f"https://{self.host}"

    def _write_config(self):
        text = self._reference_config_head() + (
            "http:\n"
            f"  addr: {self.host}\n"
            f"  secret: {REFERENCE_HTTP_SECRET}\n"
            "  tls:\n"
            f"    certificate: {self.certs['cert']}\n"
            f"    key: {self.certs['key']}\n"
            "auth:\n"
            "  token:\n"
            f"    realm: {self.tokens.realm}\n"
            f"    service: {self.tokens.service}\n"
            f"    issuer: {self.tokens.issuer}\n"
            f"    rootcertbundle: {self.tokens.cert}\n"
        )
        with open(self.config_path, "w") as f:
            f.write(text)

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                r = requests.get(self.url("/v2/"), verify=self.certs["ca"], timeout=2)
                if r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Bearer "):
                    return
                last = describe(r)
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self.log_shown = True
        self._terminate()
        pytest.fail(f"{self.label} did not answer 401 (Bearer) on https://{self.host}/v2/ (last: {last})\n"
                    f"{self.logs()}", pytrace=False)

    def token_session(self, user, password, scope):
        """A requests session holding a token for `scope` from the token service, verifying with the CA."""
        r = requests.get(self.tokens.realm, params={"service": self.tokens.service, "scope": scope},
                         auth=(user, password), timeout=TIMEOUT)
        assert r.status_code == 200, describe(r)
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE, when set, overrides session.verify
        session.verify = self.certs["ca"]
        session.headers["Authorization"] = f"Bearer {r.json()['token']}"
        return session


class TLSReference(Registry):
    """docker-registry serving HTTPS (certificate for 127.0.0.1 signed by a test CA), no authentication.
    Ready when GET https://127.0.0.1:PORT/v2/ answers 200, verified with the CA."""

    def __init__(self, workdir, *, certs, label="upstream"):
        self.certs = certs
        super().__init__("reference", workdir, label=label)
        self.base_url = f"https://{self.host}"

    def _write_config(self):
        with open(self.config_path, "w") as f:
            f.write(self._reference_config_head() + f"http:\n  addr: {self.host}\n  secret: {REFERENCE_HTTP_SECRET}\n"
                    f"  tls:\n    certificate: {self.certs['cert']}\n    key: {self.certs['key']}\n")

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                r = requests.get(self.url("/v2/"), verify=self.certs["ca"], timeout=2)
                if r.status_code == 200:
                    return
                last = describe(r)
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self.log_shown = True
        self._terminate()
        pytest.fail(f"{self.label} did not answer 200 on https://{self.host}/v2/ (last: {last})\n{self.logs()}",
                    pytrace=False)

    def session(self):
        """A requests session that verifies the upstream with the CA."""
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE, when set, overrides session.verify
        session.verify = self.certs["ca"]
        return session


def bcrypt_entry(user, password):
    """An htpasswd line: docker-registry takes bcrypt entries only (htpasswd is Debian's apache2-utils)."""
    return subprocess.run(["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True,
                          timeout=30).stdout.strip()


class HtpasswdReference(Registry):
    """docker-registry with htpasswd (Basic) authentication; ready when GET /v2/ answers 401."""

    def __init__(self, workdir, htpasswd, *, realm, label="upstream"):
        self.htpasswd = str(htpasswd)
        self.realm = realm
        super().__init__("reference", workdir, label=label)

    def _write_config(self):
        super()._write_config()
        with open(self.config_path, "a") as f:
            f.write(f"auth:\n  htpasswd:\n    realm: {self.realm}\n    path: {self.htpasswd}\n")

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(self.url("/v2/"), timeout=2).status_code == 401:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.log_shown = True
        self._terminate()
        pytest.fail(f"{self.label} did not answer 401 on /v2/\n{self.logs()}", pytrace=False)


def start_registry_object(request, reg):
    """Start a Registry made by the test itself; its log goes into a failing test's report and
    start_registry's teardown stops it (by PID)."""
    request.node._registries.append(reg)
    return reg.start()


def sha256_stream(response, chunk=1 << 20):
    """(hex digest, length) of a streamed response's body."""
    h = hashlib.sha256()
    n = 0
    for part in response.iter_content(chunk):
        h.update(part)
        n += len(part)
    return h.hexdigest(), n


def run_together(n, target):
    """Starts n threads on target(i) together (a barrier) and waits for them all: [result of each], an
    exception reported as {"error": repr(e)} with the others."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = target(i)
        except Exception as e:  # reported with the others
            results[i] = {"error": repr(e)}

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * TIMEOUT)
    return results
