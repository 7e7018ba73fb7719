"""The supervisor of worker processes: a worker that dies after it is ready (a crash a request caused, an OOM
kill) is started again however often it happens; only workers that cannot get ready make it give up."""
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from processes import children, wait_until_serving, worker_index
from regutil import TIMEOUT

pytestmark = pytest.mark.berth_only  # worker processes are Berth's own


def _wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return None


def test_workers_killed_again_and_again_are_replaced_and_the_server_keeps_serving(start_berth):
    # The old supervisor stopped for good after 3 deaths within 2 s of a start, counted forever.
    server = start_berth("--workers", "2", "--log-level", "debug")  # Berth-Worker is sent at debug
    base = server.base_url
    for index in (0, 1):
        assert wait_until_serving(base, index), f"worker {index} never answered\n" + server.logs()[-4000:]
    for round in range(12):
        index = round % 2
        victim = _wait_for(lambda: next((pid for pid in children(server.pid) if worker_index(pid) == index), None))
        assert victim, f"round {round}: no worker {index}\n" + server.logs()[-4000:]
        os.kill(victim, signal.SIGKILL)
        replaced = _wait_for(lambda: [pid for pid in children(server.pid) if worker_index(pid) == index and pid != victim])
        assert replaced, f"round {round}: worker {index} (pid {victim}) was not replaced\n" + server.logs()[-4000:]
        assert server.running, f"round {round}: the supervisor exited\n" + server.logs()[-4000:]
        assert wait_until_serving(base, index), f"round {round}: the new worker {index} never answered\n" + server.logs()[-4000:]
    assert requests.get(base + "/v2/", timeout=TIMEOUT).status_code == 200
    assert len(children(server.pid)) == 2
    server.stop_cleanly()


def test_workers_that_cannot_listen_make_the_supervisor_give_up(tmp_path):
    """Start-up failures still stop it: a port taken by another program is not worth retrying forever."""
    binary = os.environ.get("BERTH_BIN")
    assert binary, "BERTH_BIN must name the berth binary"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with open(tmp_path / "berth.log", "wb") as log:
            proc = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--root", str(tmp_path / "data"),
                                     "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
        try:
            status = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("the supervisor kept restarting workers that cannot listen\n" + (tmp_path / "berth.log").read_text())
    assert status != 0
