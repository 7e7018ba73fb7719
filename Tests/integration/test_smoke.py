"""The real binary answers the base endpoint and a monolithic blob round trip on a free loopback port."""
import os
import signal
import subprocess
import time

import requests

from regutil import digest_of, free_port


def test_base_endpoint_and_blob_round_trip(tmp_path):
    binary = os.environ.get("BERTH_BIN")
    assert binary, "BERTH_BIN must name the berth binary (make test sets it)"
    port = free_port()
    log = open(tmp_path / "berth.log", "wb")
    proc = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--root", str(tmp_path / "data")],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                r = requests.get(base + "/v2/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert r.status_code == 200
        assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        assert r.json() == {}

        body = os.urandom(100_000)
        digest = digest_of(body)
        r = requests.post(f"{base}/v2/smoke/blobs/uploads/?digest={digest}", data=body,
                          headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        assert r.headers["Docker-Content-Digest"] == digest
        r = requests.get(f"{base}/v2/smoke/blobs/{digest}")
        assert r.status_code == 200
        assert r.content == body
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
