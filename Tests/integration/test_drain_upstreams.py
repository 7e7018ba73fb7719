"""A stopped mirror exits once its clients are done, not when its idle upstream connections time out.

After a pull, the mirror keeps its keep-alive connection to the upstream in a pool (30 s idle timeout). A
drained server used to keep that connection open, and with it the loop and the process, for those 30 s:
a SIGTERM, or the retirement of a worker on SIGHUP, took half a minute. The deadline below only guards
against a hang; what is checked is that the process is gone well before the pool's idle timeout.
"""
import os
import signal
import time

import pytest
import requests

from mirrorutil import TIMEOUT, start_mirror, write_mirror_config
from regutil import digest_of, push_blob

pytestmark = pytest.mark.berth_only  # the mirror is Berth's

POOL_IDLE_SECONDS = 30  # UpstreamClient.Configuration.idleTimeoutMilliseconds


@pytest.mark.parametrize("workers", [1, 2])
def test_a_mirror_stopped_after_a_pull_exits_before_its_pooled_upstream_connection_times_out(
        start_berth, reference, tmp_path, workers):
    blob = os.urandom(200_000)
    digest = push_blob(reference.base_url, "team/tool", blob)
    config = write_mirror_config(tmp_path, remoteurl=reference.base_url)
    berth, _ = start_mirror(start_berth, tmp_path, config, workers=workers)
    r = requests.get(berth.url(f"/v2/team/tool/blobs/{digest}"), timeout=TIMEOUT)
    assert r.status_code == 200 and digest_of(r.content) == digest, r.status_code

    os.kill(berth.pid, signal.SIGTERM)
    deadline = time.monotonic() + POOL_IDLE_SECONDS - 10
    while berth.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert berth.proc.poll() is not None, (
        f"berth still running {POOL_IDLE_SECONDS - 10} s after SIGTERM with no client connected:\n{berth.logs()[-3000:]}")
    assert berth.proc.returncode == 0, berth.logs()[-3000:]
