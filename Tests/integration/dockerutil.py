"""The Docker daemon as a test client: Debian's dockerd (docker.io) started by the test as root with a temporary
data root, its own socket and no networking of its own (`--bridge=none --iptables=false`), and the docker CLI
pointed at it with a temporary DOCKER_CONFIG, so logins stay inside the test. Registries are reached on
loopback; a TLS registry's CA goes to /etc/docker/certs.d/<host:port>/ca.crt (the daemon reads only there),
which is removed again when the daemon stops. Stopped by its PID."""

import os
import shutil
import subprocess
import tempfile
import time
from processes import stop_process

CERTS_D = "/etc/docker/certs.d"
TIMEOUT = 180


class Dockerd:
    def __init__(self, tmp_path):
        self.dir = tmp_path / "dockerd"
        self.dir.mkdir()
        # Unix socket paths end at 108 bytes, and containerd's under the exec root are long: a short folder.
        self.exec_root = tempfile.mkdtemp(prefix="bd-", dir="/tmp")
        self.socket = os.path.join(self.exec_root, "docker.sock")
        self.data_root = str(self.dir / "root")
        self.config = self.dir / "client"
        self.config.mkdir()
        self.log_path = self.dir / "dockerd.log"
        self.trusted = []
        argv = ["dockerd", "--data-root", self.data_root, "--exec-root", os.path.join(self.exec_root, "x"),
                "--pidfile", str(self.dir / "dockerd.pid"), "--host", f"unix://{self.socket}",
                "--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver", "overlay2"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"dockerd exited {self.proc.returncode}\n{self.logs()}"
            if os.path.exists(self.socket) and self.run("version", check=False).returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"dockerd did not answer on {self.socket}\n{self.logs()}")

    def logs(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def run(self, *args, input=None, check=True):
        """The docker CLI against this daemon; returns the CompletedProcess (text)."""
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.config)}
        p = subprocess.run(["docker", *args], input=input, capture_output=True, text=True, timeout=TIMEOUT, env=env)
        if check:
            assert p.returncode == 0, f"docker {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def trust(self, host, ca_file):
        """Makes the daemon verify `host` (host:port) against this CA, as an operator does."""
        directory = os.path.join(CERTS_D, host)
        os.makedirs(directory, exist_ok=True)
        shutil.copy(ca_file, os.path.join(directory, "ca.crt"))
        self.trusted.append(directory)

    def stop(self):
        for directory in self.trusted:
            shutil.rmtree(directory, ignore_errors=True)
        self.trusted = []
        stop_process(self.proc, timeout=30)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        # dockerd bind-mounts its data root onto itself (private mount propagation) and leaves it mounted.
        if os.path.ismount(self.data_root):
            subprocess.run(["umount", self.data_root], check=True, capture_output=True, timeout=30)
