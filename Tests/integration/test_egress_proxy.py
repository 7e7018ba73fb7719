"""The mirror's upstream connections through an egress proxy (`egress.proxy`, or HTTPS_PROXY/HTTP_PROXY/
NO_PROXY in Berth's environment): Debian's squid, started here on a free loopback port with a config file,
pid file, logs and cache of its own (never the system service), in the foreground (`-N`), stopped by PID.

squid writes one access-log line per request once it is over (`method URL status user`): a plain-http
request as its absolute URL, a tunnel as `CONNECT host:port` when the tunnel closes, so the tests stop Berth
(which closes its pooled connections) before they read the tunnels."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

from mirrorutil import (TIMEOUT, assert_same_image, build_image, metric, metric_samples, pull_through,
                        push_to_upstream, settle_log, upstream_requests, wait_for_metrics, write_mirror_config)
from regutil import OCI_MANIFEST, describe, free_port, push_blob
from test_mirror_tls import tls_token_upstream  # noqa: F401 (a fixture: docker-registry over TLS + tokens)

pytestmark = pytest.mark.berth_only  # the egress proxy is Berth's; docker-registry is the upstream here

SQUID = shutil.which("squid") or "/usr/sbin/squid"
NCSA = "/usr/lib/squid/basic_ncsa_auth"


class Squid:
    """One squid on 127.0.0.1:port. Its directory is outside pytest's (mode 0700, root's): squid drops to
    the `proxy` user, which must write its logs and read the htpasswd file there."""

    def __init__(self, users=None):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="berth-squid-")
        self.proc = None
        self.users = users

    def start(self):
        auth = ""
        access = "http_access allow all\n"
        if self.users:
            with open(os.path.join(self.dir, "htpasswd"), "w") as f:
                for user, password in self.users.items():
                    f.write(subprocess.run(["htpasswd", "-nbB", user, password], check=True, capture_output=True,
                                           text=True).stdout.strip() + "\n")
            auth = (f"auth_param basic program {NCSA} {self.dir}/htpasswd\n"
                    "auth_param basic realm berth-test\n"
                    "acl authed proxy_auth REQUIRED\n")
            access = "http_access allow authed\nhttp_access deny all\n"
        config = (
            f"http_port {self.address}\n"
            f"pid_filename {self.dir}/squid.pid\n"
            "logformat berth %rm %ru %>Hs %un\n"
            f"access_log stdio:{self.dir}/access.log logformat=berth buffer-size=0KB\n"
            f"cache_log {self.dir}/cache.log\n"
            "cache_store_log none\n"
            "cache deny all\n"
            "cache_mem 8 MB\n"
            f"coredump_dir {self.dir}\n"
            "netdb_filename none\n"
            "pinger_enable off\n"
            "cache_effective_user proxy\n"
            "shutdown_lifetime 0 seconds\n"
            "visible_hostname berth-test\n"
            # Loopback upstreams on any port: squid's stock config forbids both, this one is the test's own.
            + auth + access)
        with open(os.path.join(self.dir, "squid.conf"), "w") as f:
            f.write(config)
        shutil.chown(self.dir, user="proxy")
        for name in os.listdir(self.dir):
            shutil.chown(os.path.join(self.dir, name), user="proxy")
        self.output = open(os.path.join(self.dir, "squid.out"), "wb")
        # -n: a service name of its own, so its shared-memory names never meet another squid's.
        self.proc = subprocess.Popen([SQUID, "-N", "-n", f"berth{self.port}", "-f", f"{self.dir}/squid.conf"],
                                     stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"squid exited {self.proc.returncode}\n{self.logs()}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"squid did not listen on {self.address} in 30 s\n{self.logs()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.output.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self):
        text = ""
        for name in ("squid.out", "cache.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f"--- {name} ---\n{f.read()[-4000:]}\n"
            except FileNotFoundError:
                pass
        return text

    def access(self):
        """[(method, url, status, user)] of the access log, without the lines of `start`'s probe (a connection
        closed before any request: `- error:transaction-end-before-headers`)."""
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        fields = [line.split(" ") for line in lines if line]
        return [(f[0], f[1], int(f[2]), f[3]) for f in fields if f[0] != "-"]

    def settled_access(self, quiet=1.0, wait=15.0):
        deadline = time.monotonic() + wait
        seen = self.access()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            again = self.access()
            if again == seen:
                break
            seen = again
        return seen


@pytest.fixture
def start_squid(request):
    def start(users=None):
        squid = Squid(users)
        request.addfinalizer(squid.stop)
        return squid.start()
    return start


def egress(proxy, noproxy=None, username=None, password=None):
    """The `egress:` section of a Berth config."""
    text = f"egress:\n  proxy: '{proxy}'\n"
    if noproxy is not None:
        text += f"  noproxy: '{noproxy}'\n"
    if username is not None:
        text += f"  proxyusername: '{username}'\n  proxypassword: '{password}'\n"
    return text


def start_berth_with(start_berth, tmp_path, config, env=None, name="mirror"):
    root = tmp_path / f"{name}-root"
    berth = start_berth("--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(root), env=env)
    return berth, root


def plain_upstream_with_image(start_registry, tmp_path, repo="team/app", nlayers=3, label="upstream"):
    upstream = start_registry("reference", label=label)
    image = build_image(tmp_path / f"src-{label}", "v1", nlayers=nlayers)
    push_to_upstream(image, upstream, f"{repo}:v1", tmp_path)
    return upstream, image


def proxied_paths(squid, upstream):
    """(method, path) of each plain-http request squid forwarded to `upstream`."""
    out = []
    for method, url, _, _ in squid.access():
        parts = urllib.parse.urlsplit(url)
        if method != "CONNECT" and parts.netloc == upstream.host:
            out.append((method, urllib.parse.unquote(parts.path)))
    return out


def test_plain_upstream_is_pulled_through_the_proxy_one_request_for_one(start_registry, start_berth, start_squid,
                                                                          tmp_path):
    squid = start_squid()
    upstream, image = plain_upstream_with_image(start_registry, tmp_path)
    # ttl 0: the tag's next GET is re-validated with a HEAD, which goes through the proxy too.
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, ttl="0s", extra=egress(f"http://{squid.address}"))
    berth, _ = start_berth_with(start_berth, tmp_path, config)
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)
    r = requests.get(berth.url("/v2/team/app/manifests/v1"), headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == image["manifest"], describe(r)
    samples = metric_samples(berth)
    proxied = metric(samples, "berth_upstream_proxied_connections_total")
    berth.stop()
    settle_log(upstream)
    squid.settled_access()

    asked = sorted((m, p) for m, p, _, _ in upstream_requests(upstream))
    forwarded = sorted(proxied_paths(squid, upstream))
    print(f"upstream saw {len(asked)} requests from Berth, squid forwarded {len(forwarded)}; "
          f"{proxied} connections through the proxy")
    assert asked, "the upstream saw no request from Berth"
    assert forwarded == asked, f"squid forwarded {forwarded}\nthe upstream saw {asked}"
    for digest in image["blobs"]:
        assert forwarded.count(("GET", f"/v2/team/app/blobs/{digest}")) == 1, digest
    assert ("HEAD", "/v2/team/app/manifests/v1") in forwarded, "the tag's re-validation did not go through squid"
    assert proxied is not None and proxied >= 1, f"berth_upstream_proxied_connections_total = {proxied}"


def test_tls_upstream_behind_a_token_service_is_reached_through_connect_tunnels(tls_token_upstream,  # noqa: F811
                                                                                 start_berth, start_squid,
                                                                                 tmp_path):
    upstream, certs, tokens = tls_token_upstream
    squid = start_squid()
    image = build_image(tmp_path / "src", "v1", nlayers=3)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path, "--dest-creds", "pusher:pushpw")
    seeded = len(tokens.requests)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, cafile=certs["ca"], username="alice",
                                 password="secret", extra=egress(f"http://{squid.address}"))
    berth, _ = start_berth_with(start_berth, tmp_path, config)
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)
    proxied = metric(wait_for_metrics(berth, lambda samples: True), "berth_upstream_proxied_connections_total")
    berth.stop()
    settle_log(upstream)
    access = squid.settled_access()
    print(f"squid's log: {access}; {proxied} connections through the proxy")

    tunnels = [(url, status) for method, url, status, _ in access if method == "CONNECT"]
    assert tunnels, "squid saw no CONNECT from Berth"
    assert all(url == upstream.host and status == 200 for url, status in tunnels), tunnels
    # The token service is plain http here: its requests went through squid in absolute form, one for one.
    realm = urllib.parse.urlsplit(tokens.realm).netloc
    token_requests = [url for method, url, _, _ in access if method == "GET" and urllib.parse.urlsplit(url).netloc == realm]
    assert len(token_requests) == len(tokens.requests) - seeded >= 1, (token_requests, tokens.requests[seeded:])
    # Every connection through the proxy is a tunnel or carries token requests (at least one, at most one each).
    assert len(tunnels) + 1 <= proxied <= len(tunnels) + len(token_requests), (proxied, tunnels, token_requests)
    for d in image["blobs"]:
        assert sum(1 for m, p, _, s in upstream_requests(upstream) if m == "GET" and p == f"/v2/team/app/blobs/{d}"
                   and s == 200) == 1, d


@pytest.mark.parametrize("how", ["in the URL", "in the keys"])
def test_proxy_credentials_that_squid_accepts_pull_through(how, start_registry, start_berth, start_squid, tmp_path):
    squid = start_squid(users={"berth": "pr0xy pass"})
    upstream, image = plain_upstream_with_image(start_registry, tmp_path, nlayers=1)
    if how == "in the URL":
        section = egress(f"http://berth:pr0xy%20pass@{squid.address}")
    else:
        section = egress(f"http://{squid.address}", username="berth", password="pr0xy pass")
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, extra=section)
    berth, _ = start_berth_with(start_berth, tmp_path, config)
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)
    access = squid.settled_access()
    # Berth sends the credentials from the first request on: squid never had to ask (no 407).
    assert access and all(user == "berth" and status == 200 for _, _, status, user in access), access


@pytest.mark.parametrize("credentials", ["wrong", "missing"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_that_refuses_the_credentials_is_named_in_the_answer(credentials, scheme, request, start_registry,
                                                                    start_berth, start_squid, tmp_path):
    squid = start_squid(users={"berth": "right"})
    userinfo = "berth:wrong@" if credentials == "wrong" else ""
    if scheme == "https":
        upstream, certs, _ = request.getfixturevalue("tls_token_upstream")
        config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, cafile=certs["ca"], username="alice",
                                     password="secret", timeout="10s", extra=egress(f"http://{userinfo}{squid.address}"))
    else:
        upstream, _ = plain_upstream_with_image(start_registry, tmp_path, nlayers=1)
        config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, timeout="10s",
                                     extra=egress(f"http://{userinfo}{squid.address}"))
    berth, _ = start_berth_with(start_berth, tmp_path, config)
    r = requests.get(berth.url("/v2/team/app/manifests/v1"), headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    print(f"{scheme} upstream, {credentials} proxy credentials: {r.status_code} {r.text[:400]!r}")
    assert r.status_code == 502, describe(r)
    detail = r.json()["errors"][0]
    text = detail["message"] + " " + str(detail.get("detail", ""))
    assert f"egress proxy {squid.address}" in text and "407" in text, text
    assert "wrong" not in r.text, "the proxy's credentials are in the answer"
    assert "egress proxy" in berth.logs() and "berth:wrong" not in berth.logs()
    access = squid.settled_access()
    assert access and all(status == 407 for _, _, status, _ in access), access
    assert not upstream_requests(upstream), "a request reached the upstream past a proxy that refused it"


def test_no_proxy_hosts_are_reached_directly_and_the_others_through_the_proxy(start_registry, start_berth,
                                                                               start_squid, tmp_path):
    squid = start_squid()
    proxied, image = plain_upstream_with_image(start_registry, tmp_path, label="proxied")
    direct, other = plain_upstream_with_image(start_registry, tmp_path, repo="org/tool", nlayers=1, label="direct")
    config = write_mirror_config(tmp_path, remoteurl=proxied.base_url, mirrors={direct.host: direct.base_url})
    # From the environment, as every Go client reads it; NO_PROXY by host and port.
    env = {"HTTP_PROXY": f"http://{squid.address}", "NO_PROXY": f"example.invalid, 127.0.0.1:{direct.port}"}
    berth, _ = start_berth_with(start_berth, tmp_path, config, env=env)
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)
    r = requests.get(berth.url(f"/v2/org/tool/manifests/v1?ns={direct.host}"), headers={"Accept": OCI_MANIFEST},
                     timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == other["manifest"], describe(r)
    berth.stop()
    settle_log(proxied)
    settle_log(direct)
    squid.settled_access()
    assert upstream_requests(direct), "the NO_PROXY upstream saw no request from Berth"
    assert not proxied_paths(squid, direct), f"squid forwarded requests for a NO_PROXY host: {squid.access()}"
    assert sorted(proxied_paths(squid, proxied)) == sorted((m, p) for m, p, _, _ in upstream_requests(proxied))
    assert proxied_paths(squid, proxied)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_proxy_that_is_down_gives_a_503_naming_it(scheme, start_registry, start_berth, tmp_path):
    upstream, _ = plain_upstream_with_image(start_registry, tmp_path, nlayers=1)
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    url = upstream.base_url if scheme == "http" else upstream.base_url.replace("http://", "https://")
    config = write_mirror_config(tmp_path, remoteurl=url, timeout="10s", extra=egress(f"http://ops:s3cret@{down}"))
    berth, _ = start_berth_with(start_berth, tmp_path, config)
    r = requests.get(berth.url("/v2/team/app/manifests/v1"), headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    print(f"{scheme} upstream, proxy down: {r.status_code} {r.text[:400]!r}")
    assert r.status_code == 503, describe(r)
    detail = r.json()["errors"][0]
    text = detail["message"] + " " + str(detail.get("detail", ""))
    assert f"egress proxy {down} could not be reached" in text, text
    assert "s3cret" not in r.text and "s3cret" not in berth.logs()
    assert not upstream_requests(upstream), "Berth went to the upstream directly"


def test_kraken_registry_backend_fetches_and_pushes_through_the_proxy(start_registry, start_berth, start_squid,
                                                                       tmp_path):
    from test_kraken_backend import _blob_url, _push_through, _registry_entry, _write_config
    squid = start_squid()
    upstream = start_registry("reference", label="upstream")
    blob = os.urandom(300_000)
    digest = push_blob(upstream.base_url, "kraken/models", blob)
    config = _write_config(tmp_path, "kraken", _registry_entry("^models$", upstream.base_url, repository="kraken/models"))
    config.write_text(config.read_text() + egress(f"http://{squid.address}"))
    berth, _ = start_berth_with(start_berth, tmp_path, config, name="kraken")
    r = requests.get(_blob_url(berth.base_url, "models", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    _, pushed = _push_through(berth, "models", upstream, "kraken/models", 200_000)
    berth.stop()
    settle_log(upstream)
    squid.settled_access()
    forwarded = proxied_paths(squid, upstream)
    print(f"squid forwarded {forwarded}")
    assert ("GET", f"/v2/kraken/models/blobs/{digest}") in forwarded, forwarded
    assert any(method == "PUT" for method, _ in forwarded) and any(method == "POST" for method, _ in forwarded), forwarded
    assert sorted(forwarded) == sorted((m, p) for m, p, _, _ in upstream_requests(upstream)), upstream_requests(upstream)


def test_a_proxy_that_never_answers_the_connect_is_a_503_naming_it(tls_token_upstream, start_berth,  # noqa: F811
                                                                     tmp_path):
    upstream, certs, _ = tls_token_upstream
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel accepts; nobody reads or answers
    try:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, cafile=certs["ca"], timeout="2s",
                                     extra=egress(f"http://{address}"))
        berth, _ = start_berth_with(start_berth, tmp_path, config)
        r = requests.get(berth.url("/v2/team/app/manifests/v1"), headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
        print(f"silent proxy: {r.status_code} {r.text[:400]!r}")
        assert r.status_code == 503, describe(r)
        assert f"egress proxy {address} could not be reached (no answer to CONNECT" in r.text, r.text
    finally:
        silent.close()
