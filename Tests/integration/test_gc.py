"""Garbage collection: offline `berth garbage-collect` removes what Debian's `docker-registry garbage-collect`
removes on a copy of the same data; online collection while a client keeps pushing never breaks an image."""
import json
import os
import shutil
import subprocess
import threading
import time
from urllib.parse import urljoin

import pytest
import requests

from regutil import digest_of

pytestmark = pytest.mark.berth_only  # Berth's own GC, compared with the reference inside the tests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def push_blob(base, name, data):
    r = requests.post(f"{base}/v2/{name}/blobs/uploads/?digest={digest_of(data)}", data=data,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(data), "size": len(data)}


def push_image(base, name, ref, layers):
    config = json.dumps({"architecture": "amd64", "os": "linux", "ref": ref, "n": os.urandom(4).hex()}).encode()
    config_descriptor = push_blob(base, name, config)
    config_descriptor["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor,
                           "layers": [push_blob(base, name, layer) for layer in layers]}).encode()
    r = requests.put(f"{base}/v2/{name}/manifests/{ref if ref else digest_of(manifest)}", data=manifest,
                     headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return digest_of(manifest), manifest


def blobs_on_disk(root):
    base = os.path.join(root, "docker/registry/v2/blobs/sha256")
    found = {}
    for prefix in os.listdir(base) if os.path.isdir(base) else []:
        for hexdigest in os.listdir(os.path.join(base, prefix)):
            data = os.path.join(base, prefix, hexdigest, "data")
            if os.path.exists(data):
                found["sha256:" + hexdigest] = os.path.getsize(data)
    return found


def reference_gc(root, tmp_path, *flags):
    config = tmp_path / f"ref-gc-{os.path.basename(root)}.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n")
    subprocess.run(["docker-registry", "garbage-collect", *flags, str(config)], check=True, capture_output=True, timeout=120)


def berth_gc(root, *flags):
    result = subprocess.run([os.environ["BERTH_BIN"], "garbage-collect", "--root", str(root), *flags],
                            check=True, capture_output=True, text=True, timeout=120)
    return result.stdout


@pytest.fixture
def populated(tmp_path, start_berth):
    """Three tagged images sharing a layer, one deleted, one untagged image, one orphan blob, and an index."""
    root = tmp_path / "root"
    berth = start_berth("--workers", "1", root=root)
    base = berth.base_url
    shared = os.urandom(20_000)
    kept, _ = push_image(base, "gc/app", "v1", [shared, os.urandom(30_000)])
    doomed, _ = push_image(base, "gc/app", "v2", [shared, os.urandom(40_000)])
    push_image(base, "gc/other", "v3", [os.urandom(50_000)])
    untagged, _ = push_image(base, "gc/app", None, [os.urandom(60_000)])
    push_blob(base, "gc/app", os.urandom(70_000))  # never referenced
    child, child_bytes = push_image(base, "gc/multi", None, [os.urandom(10_000)])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_bytes),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    assert requests.put(f"{base}/v2/gc/multi/manifests/latest", data=index,
                        headers={"Content-Type": OCI_INDEX}).status_code == 201
    assert requests.delete(f"{base}/v2/gc/app/manifests/{doomed}").status_code == 202
    berth.stop_cleanly()
    child_manifest = json.loads(child_bytes)
    child_blobs = {child_manifest["config"]["digest"]} | {layer["digest"] for layer in child_manifest["layers"]}
    return root, {"kept": kept, "doomed": doomed, "untagged": untagged, "child_blobs": child_blobs}


def test_offline_gc_removes_what_the_reference_removes(populated, tmp_path):
    root, _ = populated
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    before = blobs_on_disk(root)
    output = berth_gc(root)
    reference_gc(copy, tmp_path)
    after = blobs_on_disk(root)
    assert set(after) == set(blobs_on_disk(copy))
    removed = set(before) - set(after)
    assert len(removed) == 4  # v2's manifest, config and own layer, and the orphan blob
    assert f"{sum(before[d] for d in removed)} bytes" in output


def test_offline_gc_delete_untagged_matches_the_reference(populated, tmp_path):
    root, ids = populated
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    berth_gc(root, "--delete-untagged")
    reference_gc(copy, tmp_path, "--delete-untagged")
    ours, theirs = set(blobs_on_disk(root)), set(blobs_on_disk(copy))
    assert ids["untagged"] not in ours
    # 2.8 also removes the blobs of a tagged index's untagged child manifest, which breaks that image
    # (a known registry:2 bug); Berth keeps them. Otherwise the two agree.
    assert ours - theirs == ids["child_blobs"]
    assert theirs <= ours


def manifest_revisions_on_disk(root):
    """(repository, digest) of every manifest revision link."""
    base = os.path.join(root, "docker/registry/v2/repositories")
    found = set()
    for directory, subdirectories, _ in os.walk(base):
        if os.path.basename(directory) == "revisions" and os.path.basename(os.path.dirname(directory)) == "_manifests":
            name = os.path.relpath(os.path.dirname(os.path.dirname(directory)), base)
            for hexdigest in os.listdir(os.path.join(directory, "sha256")):
                if os.path.exists(os.path.join(directory, "sha256", hexdigest, "link")):
                    found.add((name, "sha256:" + hexdigest))
            subdirectories.clear()
    return found


@pytest.mark.parametrize("tagged, untagged", [("share/a", "share/b"), ("share/b", "share/a")],
                         ids=["tagged-sorts-first", "tagged-sorts-last"])
def test_delete_untagged_decides_per_repository(tmp_path, start_berth, tagged, untagged):
    """One manifest tagged in one repository and untagged in another: registry:2 removes the untagged revision
    whichever repository it sweeps first, and so must Berth (it kept it when the tagged one came first)."""
    root = tmp_path / "root"
    berth = start_berth("--workers", "1", root=root)
    base = berth.base_url
    digest, manifest = push_image(base, tagged, "v1", [os.urandom(30_000)])
    for descriptor in [json.loads(manifest)["config"], *json.loads(manifest)["layers"]]:
        push_blob(base, untagged, requests.get(f"{base}/v2/{tagged}/blobs/{descriptor['digest']}").content)
    assert requests.put(f"{base}/v2/{untagged}/manifests/{digest}", data=manifest,
                        headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    push_image(base, untagged, "own", [os.urandom(20_000)])  # keeps the repository in use
    loose, _ = push_image(base, untagged, None, [os.urandom(40_000)])  # untagged here only: its blobs go
    berth.stop_cleanly()
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    berth_gc(root, "--delete-untagged")
    reference_gc(copy, tmp_path, "--delete-untagged")
    assert blobs_on_disk(root) == blobs_on_disk(copy)
    assert loose not in blobs_on_disk(root) and digest in blobs_on_disk(root)
    ours = manifest_revisions_on_disk(root)
    assert ours == manifest_revisions_on_disk(copy)
    assert (tagged, digest) in ours and (untagged, digest) not in ours


def test_dry_run_removes_nothing(populated):
    root, _ = populated
    before = blobs_on_disk(root)
    output = berth_gc(root, "--dry-run")
    assert "blob eligible for deletion" in output
    assert blobs_on_disk(root) == before


def test_every_remaining_tag_pulls_bit_for_bit_after_gc(populated, tmp_path, start_berth):
    root, _ = populated
    berth_gc(root)
    berth = start_berth("--workers", "1", root=root)
    try:
        for name, tag in (("gc/app", "v1"), ("gc/other", "v3"), ("gc/multi", "latest")):
            out = tmp_path / f"pull-{tag}"
            subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false",
                            f"docker://{berth.host}/{name}:{tag}", f"oci:{out}:{tag}"],
                           check=True, capture_output=True, timeout=120)
            for blob in (out / "blobs" / "sha256").iterdir():
                assert digest_of(blob.read_bytes()) == "sha256:" + blob.name
        assert requests.get(f"{berth.base_url}/v2/gc/app/manifests/v2").status_code == 404
    finally:
        berth.stop_cleanly()


def test_online_gc_while_a_client_keeps_pushing(tmp_path, start_berth):
    berth = start_berth("--workers", "2", env={"BERTH_GC_INTERVAL": "1s", "BERTH_GC_DELAY": "3s"})
    root = berth.root
    base = berth.base_url
    try:
        stay, _ = push_image(base, "live/app", "stay", [os.urandom(100_000)])
        gone, _ = push_image(base, "live/app", "gone", [os.urandom(200_000)])
        assert requests.delete(f"{base}/v2/live/app/manifests/{gone}").status_code == 202
        garbage = set(blobs_on_disk(root)) - set(blobs_on_disk_after_marking(base, root))
        stop = threading.Event()
        pushed = []
        errors = []

        def pusher():
            i = 0
            while not stop.is_set():
                try:
                    # Blobs first, then a pause longer than a GC interval, then the manifest: a push in flight.
                    layer = os.urandom(50_000)
                    push_blob(base, "live/busy", layer)
                    time.sleep(1.2)
                    digest, _ = push_image(base, "live/busy", f"t{i}", [layer])
                    pushed.append(f"t{i}")
                    i += 1
                except AssertionError as error:
                    errors.append(error)
                    return

        thread = threading.Thread(target=pusher)
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not garbage.isdisjoint(blobs_on_disk(root)):
            time.sleep(0.5)
        time.sleep(2)
        stop.set()
        thread.join(timeout=30)
        assert not errors, errors
        assert garbage.isdisjoint(blobs_on_disk(root)), "unreferenced blobs older than gc.delay are still there"
        assert len(pushed) >= 3
        for tag in ["stay"]:
            assert requests.get(f"{base}/v2/live/app/manifests/{tag}", headers={"Accept": OCI_MANIFEST}).status_code == 200
        for tag in pushed:
            out = tmp_path / f"busy-{tag}"
            subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{berth.host}/live/busy:{tag}",
                            f"oci:{out}:{tag}"], check=True, capture_output=True, timeout=120)
        metrics = requests.get(base + "/metrics").text
        assert "berth_gc_runs_total" in metrics
    finally:
        berth.stop_cleanly()


def blobs_on_disk_after_marking(base, root):
    """The blobs that the remaining tags reference (what GC must keep)."""
    keep = set()
    for name, tag in (("live/app", "stay"),):
        manifest = requests.get(f"{base}/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        keep.add(manifest.headers["Docker-Content-Digest"])
        body = manifest.json()
        keep.add(body["config"]["digest"])
        keep.update(layer["digest"] for layer in body["layers"])
    return keep


def test_gc_purges_stale_uploads_and_removes_repositories_left_empty(start_berth, tmp_path):
    berth = start_berth("--workers", "1")
    base = berth.base_url
    digest, _ = push_image(base, "gone/app", "v1", [os.urandom(10_000)])
    push_image(base, "kept/app", "v1", [os.urandom(10_000)])
    r = requests.post(f"{base}/v2/kept/app/blobs/uploads/")
    upload = urljoin(base + "/", r.headers["Location"])
    assert requests.patch(upload, data=b"partial").status_code == 202
    assert requests.delete(f"{base}/v2/gone/app/manifests/{digest}").status_code == 202
    for path in os.listdir(os.path.join(berth.root, "docker/registry/v2/repositories/gone/app/_layers/sha256")):
        assert requests.delete(f"{base}/v2/gone/app/blobs/sha256:{path}").status_code == 202
    time.sleep(1.5)  # the upload must be older than uploads.maxage below
    output = subprocess.run([os.environ["BERTH_BIN"], "garbage-collect", "--root", berth.root],
                            env={**os.environ, "BERTH_UPLOADS_MAXAGE": "1s"},
                            check=True, capture_output=True, text=True, timeout=120).stdout
    assert "upload purged: kept/app/" in output
    assert "repository removed: gone/app" in output
    assert requests.get(upload).status_code == 404
    assert requests.get(f"{base}/v2/_catalog").json()["repositories"] == ["kept/app"]
    assert requests.get(f"{base}/v2/kept/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 200
    berth.stop_cleanly()


def _empty_the_repository(base, root, name, digest):
    assert requests.delete(f"{base}/v2/{name}/manifests/{digest}").status_code == 202
    for path in os.listdir(os.path.join(root, f"docker/registry/v2/repositories/{name}/_layers/sha256")):
        assert requests.delete(f"{base}/v2/{name}/blobs/sha256:{path}").status_code == 202


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_removing_an_empty_repository_keeps_the_repositories_nested_in_it(start_berth, online):
    """`team` left empty is removed; `team/app`, whose directory lies inside `team`'s, is not touched."""
    env = {"BERTH_GC_INTERVAL": "1s", "BERTH_GC_DELAY": "0s"} if online else {}
    berth = start_berth("--workers", "1", env=env)
    base = berth.base_url
    digest, _ = push_image(base, "team", "v1", [os.urandom(10_000)])
    nested_digest, nested = push_image(base, "team/app", "v1", [os.urandom(10_000)])
    _empty_the_repository(base, berth.root, "team", digest)
    if online:
        deadline = time.monotonic() + 60
        while "team" in requests.get(f"{base}/v2/_catalog").json()["repositories"]:
            assert time.monotonic() < deadline, "the empty repository was never removed"
            time.sleep(0.2)
    else:
        output = subprocess.run([os.environ["BERTH_BIN"], "garbage-collect", "--root", berth.root],
                                check=True, capture_output=True, text=True, timeout=120).stdout
        assert "repository removed: team\n" in output, output
    assert requests.get(f"{base}/v2/_catalog").json()["repositories"] == ["team/app"]
    r = requests.get(f"{base}/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200 and r.content == nested, r.text
    for layer in json.loads(nested)["layers"]:
        assert requests.get(f"{base}/v2/team/app/blobs/{layer['digest']}").status_code == 200
    berth.stop_cleanly()
