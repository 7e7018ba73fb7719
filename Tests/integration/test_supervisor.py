"""The supervisor of worker processes: a worker that dies after it is ready (a crash a request caused, an OOM
kill) is started again however often it happens; only workers that cannot get ready make it give up."""
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from processes import children, identity, wait_until_serving, worker_index
from regutil import OCI_MANIFEST, TIMEOUT, push_image

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


@pytest.mark.parametrize("first,second", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_a_second_server_on_a_busy_port_exits_with_address_in_use_and_the_first_serves_every_request(
        start_berth, tmp_path, first, second):
    """Workers that each bound with SO_REUSEPORT let a second `berth serve --workers 2` join the port, and the
    kernel sent it part of the connections (to an empty data directory: NAME_UNKNOWN). Either order of one and
    two workers, and two after two, must fail at once."""
    server = start_berth("--workers", str(first))
    image = push_image(server.base_url, "busy/app", "v1")
    serving = identity(server.proc)
    log_path = tmp_path / "second.log"
    with open(log_path, "wb") as log:
        second = subprocess.Popen([os.environ["BERTH_BIN"], "serve", "--addr", server.host, "--root", str(tmp_path / "empty"),
                                   "--workers", str(second)], stdout=log, stderr=subprocess.STDOUT)
    try:
        # Done when it exits, or failed as soon as it says it serves.
        assert _wait_for(lambda: second.poll() is not None or "serving" in log_path.read_text()), "the second server hung"
        assert second.poll() is not None, "a second server started on a busy port\n" + log_path.read_text()
    finally:
        if second.poll() is None:
            workers = children(second.pid)
            second.kill()
            second.wait()
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
    assert second.returncode != 0
    assert "address already in use" in log_path.read_text(), log_path.read_text()
    for _ in range(24):  # new connections, which the kernel would spread over every socket on the port
        r = requests.get(f"{server.base_url}/v2/busy/app/manifests/v1", headers={"Accept": OCI_MANIFEST, "Connection": "close"},
                         timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == image["manifest"], r.text
    assert identity(server.proc) == serving
    server.stop_cleanly()
