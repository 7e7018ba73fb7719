"""Online garbage collection never loses an acknowledged image: a manifest PUT is refused (400
MANIFEST_BLOB_UNKNOWN) while a blob it references is gone, is never 201 while a sweep removes one of its blobs,
and a sweep leaves no layer link to a blob it removed."""
import json
import os
import random
import threading
import time

import pytest
import requests

from regutil import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, assert_error, descriptor, digest_of, push_blob, wait_for

pytestmark = pytest.mark.berth_only  # online GC is Berth's own (registry:2 has none)

SWEEPING = {"BERTH_GC_INTERVAL": "1s", "BERTH_GC_DELAY": "0s"}


def manifest_of(config, layers):
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                       "layers": [descriptor(OCI_LAYER_GZIP, layer) for layer in layers]}).encode()


def link_file(root, name, digest):
    return os.path.join(root, "docker/registry/v2/repositories", name, "_layers/sha256", digest.split(":")[1], "link")


def test_manifest_referencing_blobs_a_sweep_removed_is_400_manifest_blob_unknown(start_berth):
    berth = start_berth(env=SWEEPING)
    base = berth.base_url
    config, layer = json.dumps({"os": "linux", "n": os.urandom(8).hex()}).encode(), os.urandom(30_000)
    digests = [push_blob(base, "swept/app", config), push_blob(base, "swept/app", layer)]
    # Nothing references them and gc.delay is 0: the next sweep removes them.
    wait_for(lambda: all(requests.head(f"{base}/v2/swept/app/blobs/{d}").status_code == 404 for d in digests),
             "a sweep removed the unreferenced blobs")
    r = requests.put(f"{base}/v2/swept/app/manifests/v1", data=manifest_of(config, [layer]),
                     headers={"Content-Type": OCI_MANIFEST})
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert requests.get(f"{base}/v2/swept/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 404
    for digest in digests:
        assert_error(requests.get(f"{base}/v2/swept/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")
        wait_for(lambda: not os.path.exists(link_file(berth.root, "swept/app", digest)),
                 "the sweep removed the layer link of a blob it removed")
    berth.stop_cleanly()


IMAGES = 200
PUSHERS = 4


def test_every_manifest_acknowledged_while_sweeps_run_pulls_whole(start_berth):
    berth = start_berth("--workers", "2", env=SWEEPING)
    base = berth.base_url
    shared = os.urandom(20_000)  # pushed again and again: commits of a blob that is already stored
    acknowledged, refused, unexpected = [], [], []
    lock = threading.Lock()

    def pusher(index):
        session = requests.Session()
        rng = random.Random(index)
        for i in range(index, IMAGES, PUSHERS):
            config = json.dumps({"os": "linux", "image": i}).encode()
            layers = [shared, os.urandom(rng.randrange(1, 60_000))]
            try:
                for blob in [config, *layers]:
                    push_blob(base, "stress/app", blob, session)
                # Some manifests arrive after a sweep or two: their blobs may be gone by then.
                if rng.random() < 0.15:
                    time.sleep(2.5)
                body = manifest_of(config, layers)
                r = session.put(f"{base}/v2/stress/app/manifests/i{i}", data=body,
                                headers={"Content-Type": OCI_MANIFEST}, timeout=60)
            except (AssertionError, requests.RequestException) as error:
                with lock:
                    unexpected.append(repr(error))
                continue
            with lock:
                if r.status_code == 201:
                    acknowledged.append((f"i{i}", body))
                elif r.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in r.text:
                    refused.append(f"i{i}")
                else:
                    unexpected.append(f"i{i}: {r.status_code} {r.text}")

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(PUSHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)
    assert not unexpected, unexpected[:5]
    assert len(acknowledged) + len(refused) == IMAGES
    assert acknowledged, "no manifest was acknowledged at all"
    print(f"{len(acknowledged)} acknowledged, {len(refused)} refused")
    # Sweeps go on meanwhile: what an acknowledged manifest references is kept for good.
    sweeps = berth.logs().count("gc: ")
    wait_for(lambda: berth.logs().count("gc: ") >= sweeps + 2, "two more sweeps")
    broken = []
    for tag, body in acknowledged:
        r = requests.get(f"{base}/v2/stress/app/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        if r.status_code != 200 or r.content != body:
            broken.append(f"{tag}: manifest {r.status_code}")
            continue
        manifest = json.loads(body)
        for blob in [manifest["config"], *manifest["layers"]]:
            got = requests.get(f"{base}/v2/stress/app/blobs/{blob['digest']}")
            if got.status_code != 200 or digest_of(got.content) != blob["digest"]:
                broken.append(f"{tag}: blob {blob['digest']} {got.status_code}")
    images = {entry.split(":")[0] for entry in broken}
    assert not broken, f"{len(images)} of {len(acknowledged)} acknowledged images do not pull: {broken[:5]}"
    berth.stop_cleanly()


def test_a_layer_link_left_without_its_blob_is_unknown_to_reads_pushes_and_mounts(start_berth):
    """A link whose blob is gone, as a sweep of an older Berth or a copy of a half-collected root leaves it."""
    berth = start_berth()
    base = berth.base_url
    missing = digest_of(os.urandom(16))
    link = link_file(berth.root, "dangling/app", missing)
    os.makedirs(os.path.dirname(link))
    with open(link, "w") as f:
        f.write(missing)
    assert requests.head(f"{base}/v2/dangling/app/blobs/{missing}").status_code == 404
    assert_error(requests.get(f"{base}/v2/dangling/app/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    # OCI dist-spec: a registry that cannot mount the blob answers 202 and an upload session instead.
    r = requests.post(f"{base}/v2/other/app/blobs/uploads/?mount={missing}&from=dangling/app")
    assert r.status_code == 202, r.text
    assert requests.head(f"{base}/v2/other/app/blobs/{missing}").status_code == 404
    config = json.dumps({"os": "linux"}).encode()
    push_blob(base, "dangling/app", config)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                       "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": missing, "size": 16}]}).encode()
    r = requests.put(f"{base}/v2/dangling/app/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    berth.stop_cleanly()
