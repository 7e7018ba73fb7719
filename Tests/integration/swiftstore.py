"""A real S3-compatible server for the tests: OpenStack Swift from Debian on loopback.

`SwiftStore(tmp)` builds one-device rings (replicas 1) in a temporary directory, starts the account,
container and object servers and a proxy whose pipeline carries Swift's in-tree `s3api` middleware in
front of `tempauth`, each daemon as its own process on a free loopback port, and stops each by its PID.
S3 clients sign with the access key `<account>:<user>` and the tempauth password as the secret.
Swift reads /etc/swift/swift.conf (the hash suffix, storage policy 0) from its fixed place; everything
else (rings, devices, daemon configs, logs) is under the temporary directory.

Fixtures (import them into a test module): `swift_store`, one running store per module, and `swift_s3`,
an `S3Target` (endpoint URL, region, access key, secret key) with a fresh bucket per test.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass

import pytest
import requests

from processes import stop_process
from regutil import free_port

READY_TIMEOUT = 60.0
REGION = "us-east-1"
ACCOUNT = "berth"
USER = "tester"
ACCESS_KEY = f"{ACCOUNT}:{USER}"
SECRET_KEY = "s3cr3t-Wd8kq2LmZp"  # distinctive, so that tests can assert it never shows in output

PACKAGES = "swift swift-proxy swift-object swift-container swift-account python3-swift memcached"

SERVER_CONF = """[DEFAULT]
devices = {devices}
mount_check = false
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {swift_dir}
log_name = {kind}-server
log_level = WARNING
log_facility = LOG_LOCAL0
log_address = /nonexistent-berth-test-syslog

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""

# The proxy: s3api before tempauth (it turns S3 signatures into tempauth's check), slo after it for
# multipart uploads, copy for CopyObject. tempauth keeps its tokens in memcache, so a memcached of its own
# runs beside the daemons.
PROXY_CONF = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
swift_dir = {swift_dir}
log_name = proxy-server
log_level = WARNING
log_address = /nonexistent-berth-test-syslog

[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy bulk slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcache_port}

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:s3api]
use = egg:swift#s3api
location = {region}
s3_acl = false
check_bucket_owner = false
# Path-style requests only (no storage_domain): http://host:port/bucket/key.

[filter:tempauth]
use = egg:swift#tempauth
user_{account}_{user} = {secret} .admin
reseller_prefix = AUTH

[filter:copy]
use = egg:swift#copy

[filter:bulk]
use = egg:swift#bulk

[filter:slo]
use = egg:swift#slo
min_segment_size = 1

[filter:dlo]
use = egg:swift#dlo
"""


def require_swift():
    for binary in ("memcached", "swift-ring-builder", "swift-proxy-server", "swift-object-server",
                   "swift-container-server", "swift-account-server"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} not found: install Debian's {PACKAGES} (make test-deps)", pytrace=False)


def has_user_xattrs(path):
    probe = os.path.join(path, ".xattr-probe")
    with open(probe, "w") as f:
        f.write("x")
    try:
        os.setxattr(probe, "user.berth", b"1")
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


class DaemonExited(Exception):
    pass


class SwiftStore:
    """Swift's four daemons on loopback under `workdir`; `start()` then `stop()` (or use as a context)."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.swift_dir = os.path.join(self.workdir, "etc")
        self.devices = os.path.join(self.workdir, "srv")
        self.logs_dir = os.path.join(self.workdir, "logs")
        self.ports = {kind: free_port() for kind in ("account", "container", "object", "proxy", "memcache")}
        self.endpoint = f"http://127.0.0.1:{self.ports['proxy']}"
        self.region = REGION
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.procs = {}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        require_swift()
        for path in (self.swift_dir, os.path.join(self.devices, "d1"), self.logs_dir):
            os.makedirs(path, exist_ok=True)
        if not has_user_xattrs(self.devices):
            pytest.fail(f"the file system under {self.devices} has no user xattrs, which Swift's object "
                        "server needs", pytrace=False)
        # The ports were free when chosen; another process may take one before a daemon binds it, and
        # that daemon then exits: the store starts again on fresh ports.
        for attempt in range(3):
            try:
                return self._start_once()
            except DaemonExited as e:
                if attempt == 2:
                    pytest.fail(str(e), pytrace=False)
                self.ports = {kind: free_port() for kind in self.ports}
                self.endpoint = f"http://127.0.0.1:{self.ports['proxy']}"

    def _start_once(self):
        for kind in ("account", "container", "object"):
            self._build_ring(kind)
            self._write(f"{kind}-server.conf", SERVER_CONF.format(
                devices=self.devices, port=self.ports[kind], swift_dir=self.swift_dir, kind=kind))
        self._write("proxy-server.conf", PROXY_CONF.format(
            port=self.ports["proxy"], swift_dir=self.swift_dir, region=REGION, account=ACCOUNT, user=USER,
            secret=SECRET_KEY, memcache_port=self.ports["memcache"]))
        try:
            self._spawn("memcache", ["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcache"]), "-U", "0",
                                     "-m", "16", *(["-u", "root"] if os.geteuid() == 0 else [])])
            for kind in ("account", "container", "object", "proxy"):
                self._spawn(kind, [f"swift-{kind}-server", os.path.join(self.swift_dir, f"{kind}-server.conf"),
                                   "--verbose"])
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for kind, proc in reversed(list(self.procs.items())):
            stop_process(proc)
        self.procs.clear()

    def logs(self):
        text = []
        for name in sorted(os.listdir(self.logs_dir)):
            with open(os.path.join(self.logs_dir, name), errors="replace") as f:
                text.append(f"--- {name} ---\n{f.read()[-4000:]}")
        return "\n".join(text)

    # -- S3 helpers for tests ------------------------------------------------------------
    def new_bucket(self):
        """A fresh bucket, made through Swift's own API with a tempauth token (S3's CreateBucket is what the
        code under test would do; the fixture does not rely on it)."""
        name = "berth-" + uuid.uuid4().hex[:12]
        # A one-replica Swift on a loaded machine answers 503 when a backend misses its node timeout; the
        # container PUT is idempotent, so it is asked again a few times before the fixture gives up.
        for _ in range(5):
            token, storage_url = self._token()
            r = requests.put(f"{storage_url}/{name}", headers={"X-Auth-Token": token}, timeout=30)
            if r.status_code not in (500, 503):
                break
        assert r.status_code in (201, 202), f"creating container {name}: {r.status_code} {r.text}\n{self.logs()}"
        return name

    def list_keys(self, bucket, prefix=""):
        token, storage_url = self._token()
        r = requests.get(f"{storage_url}/{bucket}", params={"prefix": prefix, "format": "json"},
                         headers={"X-Auth-Token": token}, timeout=30)
        assert r.status_code in (200, 204), r.text
        return [entry["name"] for entry in (r.json() if r.status_code == 200 else [])]

    def _token(self):
        r = requests.get(f"{self.endpoint}/auth/v1.0",
                         headers={"X-Auth-User": ACCESS_KEY, "X-Auth-Key": SECRET_KEY}, timeout=30)
        assert r.status_code == 200, f"tempauth: {r.status_code} {r.text}"
        return r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]

    # -- setup ---------------------------------------------------------------------------
    def _write(self, name, text):
        with open(os.path.join(self.swift_dir, name), "w") as f:
            f.write(text)

    def _build_ring(self, kind):
        builder = os.path.join(self.swift_dir, f"{kind}.builder")
        for stale in (builder, os.path.join(self.swift_dir, f"{kind}.ring.gz")):  # from an attempt on other ports
            if os.path.exists(stale):
                os.remove(stale)
        for argv in (["create", "4", "1", "0"],
                     ["add", f"r1z1-127.0.0.1:{self.ports[kind]}/d1", "100"],
                     ["rebalance"]):
            r = subprocess.run(["swift-ring-builder", builder, *argv], capture_output=True, text=True)
            # rebalance exits 1 with a warning for a one-device ring; the ring file is what counts.
            if r.returncode not in (0, 1):
                pytest.fail(f"swift-ring-builder {kind} {' '.join(argv)}: {r.stdout}{r.stderr}", pytrace=False)
        assert os.path.exists(os.path.join(self.swift_dir, f"{kind}.ring.gz")), f"no {kind} ring"

    def _spawn(self, kind, argv):
        log = open(os.path.join(self.logs_dir, f"{kind}.log"), "ab")
        try:
            self.procs[kind] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.workdir)
        finally:
            log.close()

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            for kind, proc in self.procs.items():
                if proc.poll() is not None:
                    raise DaemonExited(f"swift {kind} server exited with {proc.returncode}\n{self.logs()}")
            try:
                # Every backend accepts connections (the proxy only finds out per request), then a token and
                # the account's answer: the proxy, memcached, tempauth and the account server are up.
                for kind in ("memcache", "account", "container", "object"):
                    socket.create_connection(("127.0.0.1", self.ports[kind]), timeout=5).close()
                token, storage_url = self._token()
                r = requests.head(storage_url, headers={"X-Auth-Token": token}, timeout=5)
                if r.status_code in (200, 204):
                    return
                last = f"account HEAD {r.status_code}"
            except (OSError, requests.RequestException, AssertionError) as e:
                last = repr(e)
            time.sleep(0.2)
        pytest.fail(f"Swift did not come up within {READY_TIMEOUT:.0f}s (last: {last})\n{self.logs()}", pytrace=False)


@dataclass
class S3Target:
    endpoint: str
    region: str
    access_key: str
    secret_key: str
    bucket: str
    store: SwiftStore


@pytest.fixture(scope="module")
def swift_store(tmp_path_factory):
    with SwiftStore(tmp_path_factory.mktemp("swift")) as store:
        yield store


@pytest.fixture
def swift_s3(swift_store):
    yield S3Target(swift_store.endpoint, swift_store.region, swift_store.access_key, swift_store.secret_key,
                   swift_store.new_bucket(), swift_store)
