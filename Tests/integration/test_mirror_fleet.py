"""A fleet of three Berth mirror nodes (`cluster.peers`), each on its own loopback port and root, in front of one
upstream and behind nginx round-robin: each cold blob is fetched from the upstream once, by its owner node
(rendezvous hashing, recomputed here by fleetutil.ranking), and the others fetch it from the owner, streamed as it
arrives. A dead owner (killed by PID, before or during a pull) or one that answers 503 is skipped: the next node
by weight takes over.

The upstream is a small HTTP server in a thread of the test (blobupstream.BlobUpstream) that counts its GETs per blob
and can hold a blob after its first MiB until the test lets it go. Timeouts only guard against hangs.
"""
import hashlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from blobupstream import BlobUpstream
from fleetutil import MiB, TIMEOUT, Balancer, node_config, ranking
from mirrorutil import metric, metric_samples, run_together, wait_for_metrics
from regutil import free_port

pytestmark = pytest.mark.berth_only  # the fleet is Berth's
WORKERS = os.environ.get("BERTH_WORKERS", "1")


class Fleet:
    def __init__(self, start_registry, tmp_path, upstream_url, size=3):
        self.ports = [free_port() for _ in range(size)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.nodes = []
        for index in range(size):
            config = node_config(tmp_path / f"node{index}.yml", upstream_url, self.ports, index)
            self.nodes.append(start_registry("berth", port=self.ports[index], label=f"node{index}", args=[
                "--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(tmp_path / f"node{index}-root"),
                "--workers", WORKERS]))

    def ranked(self, digest):
        """The nodes, owner first."""
        return [self.nodes[self.urls.index(url)] for url in ranking(self.urls, digest)]


@pytest.fixture
def upstream():
    made = BlobUpstream()
    yield made
    made.stop()


@pytest.fixture
def fleet(start_registry, tmp_path, upstream):
    return Fleet(start_registry, tmp_path, upstream.base_url)


@pytest.fixture
def balancer(tmp_path, fleet):
    made = Balancer(tmp_path, fleet.ports)
    yield made
    made.stop()


def pull(base_url, digest, repo="test/blob", on_head=lambda: None):
    """(status, sha256 of the body, length) of one blob GET; `on_head` runs once its head is in."""
    with requests.get(f"{base_url}/v2/{repo}/blobs/{digest}", stream=True, timeout=TIMEOUT) as r:
        on_head()
        if r.status_code != 200:
            return r.status_code, None, 0
        h, n = hashlib.sha256(), 0
        for part in r.iter_content(MiB):
            h.update(part)
            n += len(part)
        return 200, "sha256:" + h.hexdigest(), n


def peer_figures(node):
    # With several workers, each publishes its figures once a second: wait for every worker's share.
    samples = wait_for_metrics(node, lambda _: True, wait=0, settle=1.5) if WORKERS != "1" else metric_samples(node)
    return {name: metric(samples, f"berth_mirror_{name}_total") for name in
            ("peer_fetches", "peer_served", "peer_skips", "upstream_bytes", "peer_bytes")}


def test_twenty_concurrent_cold_pulls_through_the_balancer_cause_one_upstream_get(upstream, fleet, balancer):
    blob = os.urandom(256 * MiB)
    digest = upstream.add(blob, gated=True)
    heads = threading.Semaphore(0)

    def client(i):
        return pull(balancer.base_url, digest, on_head=heads.release)

    results = []
    runner = threading.Thread(target=lambda: results.extend(run_together(20, client)), daemon=True)
    runner.start()
    # Every client has its answer's head while the upstream holds the blob after its first MiB: the 20 pulls
    # are in flight together, on the three nodes.
    for _ in range(20):
        assert heads.acquire(timeout=TIMEOUT), "a client had no answer while the upstream held the blob"
    upstream.release(digest)
    runner.join(3 * TIMEOUT)
    assert results == [(200, digest, len(blob))] * 20
    assert upstream.count(digest) == 1, "the fleet asked the upstream more than once for one blob"
    owner, *others = fleet.ranked(digest)
    figures = {node.label: peer_figures(node) for node in fleet.nodes}
    print(figures)
    assert figures[owner.label]["upstream_bytes"] == len(blob), "the owner is not the node that fetched it"
    for node in others:
        assert figures[node.label]["upstream_bytes"] == 0
        assert figures[node.label]["peer_fetches"] == 1 and figures[node.label]["peer_bytes"] == len(blob)
    assert figures[owner.label]["peer_served"] == len(others)


def test_a_pull_through_a_node_that_does_not_own_the_blob_is_served_by_the_owner(upstream, fleet):
    blob = os.urandom(8 * MiB)
    digest = upstream.add(blob)
    owner, second, third = fleet.ranked(digest)
    assert pull(third.base_url, digest) == (200, digest, len(blob))
    assert upstream.count(digest) == 1
    assert peer_figures(third)["peer_fetches"] == 1
    assert peer_figures(third)["upstream_bytes"] == 0
    assert peer_figures(owner)["upstream_bytes"] == len(blob), "the rendezvous owner did not fetch it"
    assert peer_figures(second)["peer_served"] == 0, "the second node was asked while the owner answered"
    # The next node asks the owner too, which serves it from its cache; and each node now has it in its own.
    assert pull(second.base_url, digest) == (200, digest, len(blob))
    assert pull(third.base_url, digest) == (200, digest, len(blob))
    assert upstream.count(digest) == 1
    assert peer_figures(owner)["peer_served"] == 2
    # A peer's fetch is never forwarded: asked with the marker, a node that does not own it goes upstream.
    other = upstream.add(os.urandom(MiB))
    not_owner = fleet.ranked(other)[2]
    fetched = peer_figures(not_owner)["peer_fetches"]
    r = requests.get(f"{not_owner.base_url}/v2/test/blob/blobs/{other}", headers={"Berth-Peer-Fetch": "1"}, timeout=TIMEOUT)
    assert r.status_code == 200 and "sha256:" + hashlib.sha256(r.content).hexdigest() == other
    assert peer_figures(not_owner)["peer_fetches"] == fetched and upstream.count(other) == 1


def test_a_dead_owner_is_skipped_and_the_next_node_by_weight_fetches(upstream, fleet, balancer):
    blob = os.urandom(8 * MiB)
    digest = upstream.add(blob)
    owner, second, third = fleet.ranked(digest)
    owner.kill()
    # Through the balancer (which skips the dead node itself) and through each remaining node directly.
    for base in [balancer.base_url] * 3 + [second.base_url, third.base_url]:
        assert pull(base, digest) == (200, digest, len(blob))
    assert upstream.count(digest) == 1, "the next node by weight did not take over the blob for the fleet"
    assert peer_figures(second)["upstream_bytes"] == len(blob)
    assert peer_figures(third)["peer_skips"] >= 1 and peer_figures(third)["upstream_bytes"] == 0


def test_killing_the_owner_during_a_pull_lets_the_next_pull_succeed_through_the_others(upstream, fleet, balancer):
    blob = os.urandom(64 * MiB)
    digest = upstream.add(blob, gated=True)
    owner, second, third = fleet.ranked(digest)
    results = []
    def cut_short_or_not():
        try:
            results.append(pull(third.base_url, digest))
        except requests.RequestException as e:  # the owner died under it
            results.append(repr(e))

    first = threading.Thread(target=cut_short_or_not, daemon=True)
    first.start()
    deadline_hit = not _wait(lambda: upstream.count(digest) == 1)
    assert not deadline_hit, "the owner did not ask the upstream"
    owner.kill()
    upstream.release(digest)
    first.join(TIMEOUT)
    # The pull that was under way may have been cut short; the next ones all succeed, through the others.
    for base in [balancer.base_url] * 3 + [second.base_url, third.base_url]:
        assert pull(base, digest) == (200, digest, len(blob))
    assert upstream.count(digest) == 2, "after the owner's death, the fleet fetched the blob more than once more"
    assert peer_figures(second)["upstream_bytes"] == len(blob)
    # The node pulled through first never went to the upstream: the owner, then the next node by weight.
    assert peer_figures(third)["upstream_bytes"] == 0 and peer_figures(third)["peer_skips"] >= 1


def _wait(condition, wait=TIMEOUT):
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_an_owner_answering_5xx_is_skipped(upstream, start_registry, tmp_path):
    """A third node that answers 503 to every blob (a Python server standing in for a node whose disk failed)."""
    asked = []

    class Failing(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append((self.path, self.headers.get("Berth-Peer-Fetch")))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    failing = ThreadingHTTPServer(("127.0.0.1", free_port()), Failing)
    failing.daemon_threads = True
    threading.Thread(target=failing.serve_forever, daemon=True).start()
    try:
        ports = [free_port(), free_port(), failing.server_address[1]]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        nodes = [start_registry("berth", port=ports[i], label=f"node{i}", args=[
            "--config", str(node_config(tmp_path / f"node{i}.yml", upstream.base_url, ports, i)), "--addr", "127.0.0.1:PORT",
            "--root", str(tmp_path / f"node{i}-root"), "--workers", WORKERS]) for i in range(2)]
        # A blob the failing node owns (one in three are).
        while True:
            blob = os.urandom(2 * MiB)
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            if ranking(urls, digest)[0] == urls[2]:
                break
        upstream.add(blob)
        second = nodes[urls.index(ranking(urls, digest)[1])]
        third = nodes[urls.index(ranking(urls, digest)[2])]
        assert pull(third.base_url, digest) == (200, digest, len(blob))
        assert pull(second.base_url, digest) == (200, digest, len(blob))
        assert upstream.count(digest) == 1
        assert (f"/v2/test/blob/blobs/{digest}", "1") in asked, "the owner was not asked first"
        assert peer_figures(third)["peer_skips"] >= 1 and peer_figures(third)["upstream_bytes"] == 0
        assert peer_figures(second)["upstream_bytes"] == len(blob)
    finally:
        failing.shutdown()
        failing.server_close()
