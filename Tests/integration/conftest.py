"""Fixtures for Berth's integration tests.

The binary under test is ``$BERTH_BIN`` (the Makefile sets it).  With
``REGISTRY_UNDER_TEST=reference`` every test runs against Debian's
``docker-registry`` (CNCF Distribution 2.8) instead: that is how the
spec-level tests themselves are validated.  Tests marked ``berth_only`` check
something the reference does differently (each says why); they are skipped in
that mode only, never in a normal run (``RUN_BERTH_ONLY=1`` runs them against
the reference anyway, to see how it differs).  Tests that start ``$BERTH_BIN``
themselves, without these fixtures, are skipped in reference mode too.

Fixtures: ``registry`` (the registry under test, fresh root, free port),
``reference`` (always docker-registry), ``start_registry(kind, root=, port=)``
(more instances, e.g. a second server on the same root).  Each server's stderr
goes to a log file in the test's tmp dir and is attached to a failing test's report.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

from regutil import free_port

REGISTRY_UNDER_TEST = os.environ.get("REGISTRY_UNDER_TEST", "berth").strip() or "berth"
if REGISTRY_UNDER_TEST not in ("berth", "reference"):
    raise pytest.UsageError(
        f"REGISTRY_UNDER_TEST must be 'berth' or 'reference', not {REGISTRY_UNDER_TEST!r}"
    )
REFERENCE_MODE = REGISTRY_UNDER_TEST == "reference"

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# A fixed secret so that a restarted reference (or a second reference on the same root)
# accepts the `_state` tokens of upload Locations handed out by the first one.
REFERENCE_HTTP_SECRET = "berth-integration-tests-fixed-secret"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "berth_only: checks a Berth requirement that the reference registry does not meet "
        "(skipped only under REGISTRY_UNDER_TEST=reference)",
    )


def pytest_collection_modifyitems(config, items):
    if not REFERENCE_MODE:
        return  # a normal run skips nothing
    skip = pytest.mark.skip(reason="berth_only: not checked against the reference registry")
    own = pytest.mark.skip(reason="starts $BERTH_BIN itself (no registry fixture): nothing to check "
                                  "against the reference registry")
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not fixtures & {"registry", "reference", "start_registry"}:
            item.add_marker(own)
        # RUN_BERTH_ONLY=1 runs them against the reference anyway, to see how it differs.
        elif "berth_only" in item.keywords and os.environ.get("RUN_BERTH_ONLY") != "1":
            item.add_marker(skip)


def pytest_report_header(config):
    return f"registry under test: {REGISTRY_UNDER_TEST} (BERTH_BIN={os.environ.get('BERTH_BIN', '<unset>')})"


def berth_binary():
    path = os.environ.get("BERTH_BIN")
    if not path:
        pytest.fail(
            "BERTH_BIN is not set: point it at the berth binary (make integration-test does), "
            "or set REGISTRY_UNDER_TEST=reference to run the suite against docker-registry",
            pytrace=False,
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"BERTH_BIN={path!r} is not an executable file", pytrace=False)
    return path


def reference_binary():
    path = os.environ.get("REFERENCE_BIN") or shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.path.exists(path):
        pytest.fail(f"docker-registry not found ({path}); install Debian's docker-registry", pytrace=False)
    return path


class Registry:
    """One registry server process (Berth or the reference) on 127.0.0.1."""

    def __init__(self, kind, workdir, root=None, port=None, label=None, args=(), env=None):
        assert kind in ("berth", "reference"), kind
        self.kind = kind
        self.args = list(args)  # extra command-line arguments (Berth only)
        self.env = dict(env or {})
        self.label = label or kind
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.root = str(root) if root else os.path.join(self.workdir, "root")
        os.makedirs(self.root, exist_ok=True)
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.host}"
        self.config_path = os.path.join(self.workdir, f"{self.label}-config.yml")
        self.log_path = os.path.join(self.workdir, f"{self.label}.log")
        self.proc = None
        self.starts = 0
        self.log_shown = False  # the log is already in a failure message

    # -- helpers -----------------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def hostport(self):
        return self.host

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def url(self, path):
        return self.base_url + path

    def logs(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _write_config(self):
        if self.kind == "berth":
            text = (
                "version: 0.1\n"
                "log: {level: info}\n"
                f"http: {{addr: {self.host}}}\n"
                "storage:\n"
                f"  filesystem: {{rootdirectory: {self.root}}}\n"
                "  delete: {enabled: true}\n"
            )
        else:
            text = self._reference_config_head() + f"http: {{addr: {self.host}, secret: {REFERENCE_HTTP_SECRET}}}\n"
        with open(self.config_path, "w") as f:
            f.write(text)

    def _reference_config_head(self):
        """The start of a docker-registry config, up to its `http:` section: version, log, storage at the root."""
        return (
            "version: 0.1\n"
            "log: {level: info}\n"
            "storage:\n"
            f"  filesystem: {{rootdirectory: {self.root}}}\n"
            "  delete: {enabled: true}\n"
            "  maintenance: {uploadpurging: {enabled: false}}\n"
        )

    # -- lifecycle ---------------------------------------------------------------------
    def start(self):
        assert not self.running, "already running"
        self._write_config()
        if self.kind == "berth":
            argv = [berth_binary(), "serve", "--config", self.config_path,
                    *(arg.replace("PORT", str(self.port)) for arg in self.args)]
        else:
            argv = [reference_binary(), "serve", self.config_path]
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.workdir,
                env={**os.environ, **self.env},
            )
        finally:
            log.close()
        self._wait_ready()
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log_shown = True
                pytest.fail(
                    f"{self.label} exited with status {self.proc.returncode} before answering "
                    f"GET /v2/ on {self.host}\n--- {self.log_path} ---\n{self.logs()}",
                    pytrace=False,
                )
            try:
                r = requests.get(self.url("/v2/"), timeout=2)
                if r.status_code == 200:
                    return
                last = f"status {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self._terminate()
        self.log_shown = True
        pytest.fail(
            f"{self.label} did not answer 200 on GET http://{self.host}/v2/ within "
            f"{READY_TIMEOUT:.0f}s (last: {last})\n--- {self.log_path} ---\n{self.logs()}",
            pytrace=False,
        )

    def _terminate(self):
        if not self.running:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self):
        """SIGTERM, wait, then SIGKILL if it does not exit."""
        self._terminate()

    def stop_cleanly(self):
        """SIGTERM, and the process must exit 0 (a crash at shutdown fails the test)."""
        self._terminate()
        assert self.proc.returncode == 0, f"{self.label} exited {self.proc.returncode}\n{self.logs()}"

    def kill(self):
        """SIGKILL to the server and its worker processes: no chance to clean up. Workers told of their
        supervisor's death would otherwise still answer, on the shared port, while the next start binds it."""
        if self.running:
            workers = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                                          text=True).stdout.split()]
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + STOP_TIMEOUT
            while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.02)

    def restart(self):
        """Stop (if running) and start again on the same port and root directory."""
        self.stop()
        return self.start()

    def __repr__(self):
        return f"<Registry {self.label} {self.host} root={self.root} pid={self.pid}>"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A worker that has exited but is not yet reaped by init is a zombie: gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for reg in getattr(item, "_registries", []):
            if reg.log_shown:
                continue
            if reg.logs():
                rep.sections.append((f"{reg.label} log ({reg.log_path})", reg.logs()[-20000:]))


@pytest.fixture
def start_registry(request, tmp_path):
    """Factory: start_registry(kind, root=None, port=None, label=None) -> running Registry.

    kind "berth" becomes the reference under REGISTRY_UNDER_TEST=reference; pass
    kind="reference" for an instance that is docker-registry in every mode.
    """
    started = []
    request.node._registries = started
    counter = [0]

    def start(kind, root=None, port=None, label=None, args=(), env=None):
        if kind == "berth" and REFERENCE_MODE:
            kind = "reference"
        counter[0] += 1
        label = label or f"{kind}{counter[0]}"
        reg = Registry(kind, tmp_path / label, root=root, port=port, label=label, args=args, env=env)
        started.append(reg)
        return reg.start()

    yield start
    for reg in started:
        try:
            reg.stop()
        except Exception:  # pragma: no cover - best effort, then hard kill
            if reg.proc and reg.proc.poll() is None:
                reg.proc.kill()


@pytest.fixture
def registry(start_registry):
    """A fresh registry under test (Berth, or docker-registry in reference mode)."""
    return start_registry("berth", label="sut")


@pytest.fixture
def start_berth(start_registry):
    """Factory for Berth itself, whatever REGISTRY_UNDER_TEST says: start_berth(*args, env=..., root=...).
    In args, PORT stands for the instance's port (for a test that passes its own --config and --addr)."""
    def start(*args, env=None, root=None):
        if REFERENCE_MODE:
            pytest.skip("starts Berth itself")
        return start_registry("berth", root=root, args=args, env=env)
    return start


@pytest.fixture
def reference(start_registry):
    """A fresh docker-registry (CNCF Distribution) for interop tests."""
    return start_registry("reference", label="reference")
