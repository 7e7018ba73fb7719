"""Berth and registry:2 (Debian's docker-registry) share one data directory layout: what one writes,
the other serves.  Under REGISTRY_UNDER_TEST=reference both sides are docker-registry."""


import requests

from imagebuild import Layout, copy_from_registry, copy_to_registry, inspect_raw, read_layout
from regutil import (MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST, TIMEOUT, describe, digest_of, location,
                     push_blob, push_image, random_bytes, start_upload, with_query)

OCTET = {"Content-Type": "application/octet-stream"}


def push_images(src_registry, tmp_path):
    """An OCI image, the same as Docker schema2, and a multi-arch index, pushed with skopeo."""
    layout = Layout(tmp_path / "src")
    single = layout.add_image(nlayers=3)
    layout.tag("v1", OCI_MANIFEST, single["manifest"])
    copy_to_registry(f"oci:{layout.path}:v1", src_registry, "team/app:v1", tmp_path=tmp_path)
    copy_to_registry(f"oci:{layout.path}:v1", src_registry, "team/app:docker", "--format", "v2s2",
                     tmp_path=tmp_path)
    multi = Layout(tmp_path / "multi")
    index = multi.add_index([multi.add_image(nlayers=1, arch=a) for a in ("amd64", "arm64")])
    multi.tag("v1", OCI_INDEX, index["manifest"])
    copy_to_registry(f"oci:{multi.path}:v1", src_registry, "team/multi:v1", "--all", tmp_path=tmp_path)
    docker_manifest = inspect_raw(src_registry, "team/app:docker", tmp_path=tmp_path)
    return layout, single, multi, index, docker_manifest


def check_images(dst_registry, tmp_path, layout, single, multi, index, docker_manifest):
    assert inspect_raw(dst_registry, "team/app:v1", tmp_path=tmp_path) == single["manifest"]
    assert inspect_raw(dst_registry, "team/app:docker", tmp_path=tmp_path) == docker_manifest
    assert inspect_raw(dst_registry, "team/multi:v1", tmp_path=tmp_path) == index["manifest"]

    back = tmp_path / "back"
    copy_from_registry(dst_registry, "team/app:v1", f"oci:{back}:v1", tmp_path=tmp_path)
    manifest, _, blobs = read_layout(back, "v1")
    assert manifest == single["manifest"]
    assert blobs == layout.blobs

    back_multi = tmp_path / "back-multi"
    copy_from_registry(dst_registry, "team/multi:v1", f"oci:{back_multi}:v1", "--all", tmp_path=tmp_path)
    manifest, _, blobs = read_layout(back_multi, "v1")
    assert manifest == index["manifest"]
    assert blobs == multi.blobs

    back_docker = tmp_path / "back-docker"
    copy_from_registry(dst_registry, "team/app:docker", f"dir:{back_docker}", tmp_path=tmp_path)
    with open(back_docker / "manifest.json", "rb") as f:
        assert f.read() == docker_manifest

    r = requests.get(f"{dst_registry.base_url}/v2/team/app/manifests/{single['digest']}",
                     headers={"Accept": MANIFEST_ACCEPT}, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") == OCI_MANIFEST
    assert r.headers.get("Docker-Content-Digest") == single["digest"]
    tags = requests.get(f"{dst_registry.base_url}/v2/team/app/tags/list", timeout=TIMEOUT).json()
    assert sorted(tags["tags"]) == ["docker", "v1"]


def test_skopeo_push_to_berth_then_pull_from_reference_on_same_root(registry, start_registry, tmp_path):
    images = push_images(registry, tmp_path)
    registry.stop()
    ref = start_registry("reference", root=registry.root, label="reference")
    check_images(ref, tmp_path, *images)


def test_skopeo_push_to_reference_then_pull_from_berth_on_same_root(reference, start_registry, tmp_path):
    images = push_images(reference, tmp_path)
    reference.stop()
    sut = start_registry("berth", root=reference.root, label="sut")
    check_images(sut, tmp_path, *images)


def test_raw_api_data_written_by_berth_is_served_by_reference(registry, start_registry):
    """Tags moved, blobs mounted, manifests deleted: the reference sees the same state."""
    base = registry.base_url
    old = push_image(base, "team/app", "v1")
    new = push_image(base, "team/app", "v1")  # moves the tag
    gone = push_image(base, "team/app", "gone")
    assert requests.delete(f"{base}/v2/team/app/manifests/{gone['digest']}", timeout=TIMEOUT).status_code == 202
    shared = random_bytes(5000)
    d = push_blob(base, "team/app", shared)
    m = requests.post(f"{base}/v2/team/mounted/blobs/uploads/?mount={d}&from=team/app", timeout=TIMEOUT)
    assert m.status_code == 201, describe(m)
    registry.stop()

    ref = start_registry("reference", root=registry.root, label="reference")
    rb = ref.base_url
    r = requests.get(f"{rb}/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == new["manifest"], describe(r)
    r = requests.get(f"{rb}/v2/team/app/manifests/{old['digest']}", headers={"Accept": OCI_MANIFEST},
                     timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == old["manifest"], describe(r)
    r = requests.get(f"{rb}/v2/team/app/manifests/{gone['digest']}", headers={"Accept": OCI_MANIFEST},
                     timeout=TIMEOUT)
    assert r.status_code == 404, describe(r)
    r = requests.get(f"{rb}/v2/team/mounted/blobs/{d}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == shared, describe(r)
    tags = requests.get(f"{rb}/v2/team/app/tags/list", timeout=TIMEOUT).json()
    assert sorted(tags["tags"]) == ["v1"]


def test_chunked_upload_started_on_reference_is_finished_on_berth(reference, start_registry):
    """registry:2 keeps the upload in _uploads/<id>/{data,startedat,hashstates/sha256/<offset>};
    Berth takes it over on the same root and port (the Location carries the reference's `_state`
    query parameter, which Berth may ignore)."""
    data = random_bytes(500_000)
    url = location(start_upload(reference.base_url, "team/handover"))
    for start, end in ((0, 150_000), (150_000, 300_000)):
        p = requests.patch(url, data=data[start:end], timeout=TIMEOUT,
                           headers={**OCTET, "Content-Range": f"{start}-{end - 1}"})
        assert p.status_code == 202, describe(p)
        url = location(p)
    reference.stop()

    sut = start_registry("berth", root=reference.root, port=reference.port, label="sut")
    g = requests.get(url, timeout=TIMEOUT)
    assert g.status_code == 204, describe(g)
    assert g.headers.get("Range") in ("0-299999", "bytes=0-299999"), describe(g)
    p = requests.patch(location(g), data=data[300_000:], timeout=TIMEOUT,
                       headers={**OCTET, "Content-Range": f"300000-{len(data) - 1}"})
    assert p.status_code == 202, describe(p)
    r = requests.put(with_query(location(p), digest=digest_of(data)), headers=OCTET, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    g = requests.get(f"{sut.base_url}/v2/team/handover/blobs/{digest_of(data)}", timeout=TIMEOUT)
    assert g.status_code == 200 and g.content == data, describe(g)
    sut.stop()

    # And the reference reads what Berth committed.
    ref2 = start_registry("reference", root=reference.root, label="reference2")
    g = requests.get(f"{ref2.base_url}/v2/team/handover/blobs/{digest_of(data)}", timeout=TIMEOUT)
    assert g.status_code == 200 and g.content == data, describe(g)
