"""The soak's server: Berth on a free loopback port with its own root and configuration, its processes' RSS and
descriptors read from /proc, `berth fsck` on its root, and a stop by PID (the supervisor, then its workers)."""
import json
import os
import signal
import socket
import subprocess
import time

import requests

from processes import children


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_figures(pid):
    """(RSS in KiB, open descriptors) of a live process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


class Server:
    """Berth on a free loopback port with its own root; stopped by its PID."""

    def __init__(self, binary, workdir, workers, gc_interval, gc_delay):
        self.binary = binary
        self.root = os.path.join(workdir, "root")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.config = os.path.join(workdir, "berth.yml")
        with open(self.config, "w") as f:
            f.write(f"version: 0.1\nlog: {{level: warn}}\nhttp: {{addr: {self.host}}}\nworkers: {workers}\n"
                    f"storage:\n  filesystem: {{rootdirectory: {self.root}}}\n  delete: {{enabled: true}}\n"
                    f"gc: {{interval: {gc_interval}, delay: {gc_delay}}}\n")
        self.log = open(os.path.join(workdir, "berth.log"), "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        self.proc = subprocess.Popen([binary, "serve", "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"berth exited {self.proc.returncode} at start; see {self.log.name}")
            try:
                if requests.get(self.base + "/v2/", timeout=2).status_code == 200 and len(children(self.proc.pid)) == (workers if workers > 1 else 0):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit("berth did not answer within 30 s")

    def processes(self):
        """{pid: role} of the supervisor and its workers (one process when workers is 1)."""
        found = {self.proc.pid: "supervisor"}
        found.update({pid: "worker" for pid in children(self.proc.pid)})
        return found

    def figures(self):
        return {pid: (role, process_figures(pid)) for pid, role in self.processes().items()}

    def fsck(self, *args):
        p = subprocess.run([self.binary, "fsck", "--config", self.config, "--json", *args], capture_output=True,
                           text=True, timeout=1800, env={k: v for k, v in os.environ.items() if not k.startswith("BERTH_")})
        try:
            return p.returncode, json.loads(p.stdout)
        except ValueError:
            return p.returncode, {"error": p.stderr, "findings": []}

    def stop(self):
        workers = children(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
