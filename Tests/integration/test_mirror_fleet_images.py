"""skopeo pulls a small image through nginx round-robin in front of a fleet of three Berth mirror nodes
(`cluster.peers`) of one docker-registry upstream: the image arrives byte for byte, and each of its blobs was
fetched from the upstream once, whichever node the client's requests landed on (manifests go to the upstream
from each node that is asked, as a single mirror's do). The upstream's access log counts its GETs.
"""
import os
import subprocess

import pytest

from fleetutil import Balancer, node_config
from mirrorutil import assert_same_image, build_image, pull_through, push_to_upstream, settled_count
from conftest import berth_binary
from processes import stop_process
from regutil import free_port

pytestmark = pytest.mark.berth_only
WORKERS = os.environ.get("BERTH_WORKERS", "1")


def test_skopeo_copies_an_image_through_the_balancer_and_each_blob_leaves_the_upstream_once(start_registry, tmp_path):
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "image", "v1", nlayers=4, layer_size=2_000_000)
    push_to_upstream(image, upstream, "fleet/app:v1", tmp_path)
    ports = [free_port() for _ in range(3)]
    for index in range(3):
        config = node_config(tmp_path / f"node{index}.yml", upstream.base_url, ports, index)
        start_registry("berth", port=ports[index], label=f"node{index}", args=[
            "--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(tmp_path / f"node{index}-root"), "--workers", WORKERS])
    balancer = Balancer(tmp_path, ports)
    try:
        # Three pulls: with round-robin, every blob is asked of more than one node.
        for round in range(3):
            assert_same_image(pull_through(balancer, "fleet/app:v1", tmp_path / f"pulled{round}", tmp_path), image)
    finally:
        balancer.stop()
    for digest in image["blobs"]:
        path = f"/v2/fleet/app/blobs/{digest}"
        assert settled_count(upstream, "GET", path, statuses={200}) == 1, f"{digest} was fetched more than once"


@pytest.mark.parametrize("extra, named", [
    ("auth: {htpasswd: {realm: r, path: /nonexistent/htpasswd}}\n", "auth.*"),
    ("http: {tls: {certificate: /c.pem, key: /c.key}}\n", "http.tls"),
    ("", "cluster.self"),
])
def test_a_node_berth_cannot_honour_does_not_start(tmp_path, extra, named):
    """A start error naming the key, never a node more open than configured (or one that ignores its peers)."""
    ports = [free_port() for _ in range(3)]
    config = node_config(tmp_path / "node.yml", "http://127.0.0.1:9", ports, 0, extra=extra)
    if named == "cluster.self":
        config.write_text(config.read_text().replace(f"  self: http://127.0.0.1:{ports[0]}\n", ""))
    proc = subprocess.Popen([berth_binary(), "serve", "--config", str(config), "--addr", f"127.0.0.1:{ports[0]}",
                             "--root", str(tmp_path / "root")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        pytest.fail(f"berth started with {extra or 'no cluster.self'}")
    assert proc.returncode != 0 and named in output and "cluster" in output, output
    assert "ignoring cluster" not in output, "the cluster keys were not read: " + output
