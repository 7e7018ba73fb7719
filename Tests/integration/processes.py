"""What a Berth process is made of, read from /proc: its worker processes and which index each serves as; and
stopping a server the tests started, by its PID."""
import glob
import signal
import subprocess
import time

import requests


def children(pid):
    """The live child processes of `pid` (its workers, when it is a supervisor)."""
    found = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                found += [int(child) for child in f.read().split()]
        except OSError:
            pass
    return sorted(child for child in found if _alive(child))


def worker_index(pid):
    """The BERTH_WORKER_INDEX a worker was started with; None when it is gone."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for entry in f.read().split(b"\0"):
                if entry.startswith(b"BERTH_WORKER_INDEX="):
                    return int(entry.split(b"=", 1)[1])
    except OSError:
        return None
    return None


def identity(proc):
    """The server's pid and its workers' pids: equal before and after means no process died or was replaced."""
    return proc.pid, tuple(children(proc.pid))


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until_serving(base, index, deadline_seconds=60):
    """Waits until worker `index` answers on a new connection (SO_REUSEPORT spreads new connections)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            with requests.Session() as session:
                if session.get(base + "/v2/", timeout=5).headers.get("Berth-Worker") == str(index):
                    return True
        except requests.RequestException:
            pass
        time.sleep(0.02)
    return False


def stop_process(proc, timeout=15):
    """SIGTERM to a server started by the test (a Popen), then SIGKILL if it has not exited within `timeout`."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
