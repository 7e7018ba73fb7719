"""Clients of the mirror benchmark: curl, timed by itself; a rate-limited one counted here; the workers' memory."""
import re
import signal
import subprocess
import threading
import time


CURL_TIMES = "%{time_total} %{size_download} %{time_starttransfer}"


def curl_argv(url, cafile=None, *extra):
    return ["curl", "-sS", "-f", "-o", "/dev/null", "-w", CURL_TIMES, *(["--cacert", cafile] if cafile else []), *extra, url]


def parse_times(out, size):
    total, got, first = out.split()
    assert int(got) == size, f"got {got} bytes of {size}"
    return float(total), float(first)


def pull(url, size, cafile=None):
    """(seconds, seconds to the first byte) of one GET."""
    r = subprocess.run(curl_argv(url, cafile), capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, f"curl {url}: {r.returncode} {r.stderr}"
    return parse_times(r.stdout, size)


def pull_many(url, size, clients):
    """`clients` GETs at once: (wall seconds of them all, [each client's seconds])."""
    started = time.monotonic()
    procs = [subprocess.Popen(curl_argv(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(clients)]
    outs = [p.communicate(timeout=3600) for p in procs]
    wall = time.monotonic() - started
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, f"curl: {p.returncode} {err}"
    return wall, [parse_times(out, size)[0] for out, _ in outs]


class SlowClient:
    """curl at a limited rate whose body is counted here (so a stopped one still tells how far it got)."""

    def __init__(self, url, rate):
        self.proc = subprocess.Popen(["curl", "-sS", "-f", "--limit-rate", str(int(rate)), url],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.received = 0
        self.thread = threading.Thread(target=self._count, daemon=True)
        self.thread.start()

    def _count(self):
        while True:
            part = self.proc.stdout.read1(1 << 20)
            if not part:
                return
            self.received += len(part)

    def stop_after(self, seconds):
        """Waits up to `seconds` for it to finish, then stops it by PID: True when it finished by itself."""
        try:
            self.proc.wait(timeout=seconds)
            finished = True
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            finished = False
        self.thread.join(30)
        return finished


class MemorySampler:
    """The largest VmRSS and VmHWM (MiB) of the server's worker processes, read every 50 ms."""

    def __init__(self, server):
        self.server = server
        self.rss = self.hwm = 0.0
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        pids = self.server.pids()  # children of the berth PID, or itself with one worker
        while self.running:
            for pid in pids:
                try:
                    status = open(f"/proc/{pid}/status").read()
                except OSError:
                    continue
                self.rss = max(self.rss, int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
                self.hwm = max(self.hwm, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.thread.join(10)
        return self.rss, self.hwm
