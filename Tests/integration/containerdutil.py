"""containerd for the tests: a daemon of the test's own, pulled through with `ctr image pull --hosts-dir`.

The daemon's root, state and sockets live in a short temporary directory (a Unix socket path must fit 108
bytes, which pytest's tmp_path does not promise); its config names every address, so it never touches the
machine's /run/containerd or /var/lib/containerd. It is stopped by its PID and the directory removed.
Pulling fetches no container runtime: only content and the native snapshotter are used.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

READY_TIMEOUT = 60  # seconds, only to avoid hangs
NAMESPACE = "berth-tests"


class Containerd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-ctrd-", dir="/tmp")
        self.socket = os.path.join(self.dir, "c.sock")
        self.hosts_dir = os.path.join(self.dir, "certs.d")
        self.log_path = os.path.join(self.dir, "containerd.log")
        self.proc = None
        os.makedirs(self.hosts_dir)
        self.config = os.path.join(self.dir, "config.toml")
        with open(self.config, "w") as f:
            f.write(f'''version = 2
root = "{self.dir}/root"
state = "{self.dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = "{self.socket}.debug"
[metrics]
  address = ""
''')

    def start(self):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(["containerd", "--config", self.config], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"containerd exited {self.proc.returncode}\n{self.logs()}", pytrace=False)
            if os.path.exists(self.socket) and self.ctr("version", check=False, timeout=10).returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"containerd did not answer on {self.socket} within {READY_TIMEOUT}s\n{self.logs()}", pytrace=False)

    def ctr(self, *args, check=True, timeout=180):
        p = subprocess.run(["ctr", "--address", self.socket, "--namespace", NAMESPACE, *args],
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, f"ctr {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def mirror(self, registry_host, upstream_url, mirror_url):
        """certs.d/<registry_host>/hosts.toml: pull and resolve through `mirror_url`, then the registry itself."""
        directory = os.path.join(self.hosts_dir, registry_host)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "hosts.toml"), "w") as f:
            f.write(f'server = "{upstream_url}"\n\n[host."{mirror_url}"]\n  capabilities = ["pull", "resolve"]\n')

    def pull(self, ref, check=True):
        """ctr image pull through the hosts directory, plain HTTP, unpacked with the native snapshotter."""
        return self.ctr("image", "pull", "--hosts-dir", self.hosts_dir, "--plain-http", "--snapshotter", "native",
                        ref, check=check)

    def logs(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-20000:]
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def containerd():
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.fail("containerd and ctr are not installed (Debian's containerd; make test-deps installs it)", pytrace=False)
    daemon = Containerd()
    try:
        yield daemon.start()
    finally:
        daemon.stop()
