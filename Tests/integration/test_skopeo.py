"""Round trips with skopeo (containers/image), the way real image tools talk to a registry."""

import json
import os

import requests

from imagebuild import Layout, copy_from_registry, copy_to_registry, inspect_raw, read_layout, skopeo
from regutil import (DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LIST, DOCKER_MANIFEST, MANIFEST_ACCEPT, OCI_INDEX,
                     OCI_MANIFEST, TIMEOUT, describe, digest_of)


def registry_manifest(registry, ref_path):
    repo, ref = ref_path.rsplit(":", 1) if "@" not in ref_path else ref_path.split("@")
    r = requests.get(f"{registry.base_url}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT},
                     timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    return r


def test_skopeo_oci_image_round_trip_preserves_every_digest(registry, tmp_path):
    layout = Layout(tmp_path / "src")
    img = layout.add_image(nlayers=3)
    layout.tag("v1", OCI_MANIFEST, img["manifest"])

    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/app:v1", tmp_path=tmp_path)

    raw = inspect_raw(registry, "team/app:v1", tmp_path=tmp_path)
    assert raw == img["manifest"]
    r = registry_manifest(registry, "team/app:v1")
    assert r.content == img["manifest"]
    assert r.headers.get("Content-Type") == OCI_MANIFEST
    assert r.headers.get("Docker-Content-Digest") == img["digest"]

    dest = tmp_path / "back"
    copy_from_registry(registry, "team/app:v1", f"oci:{dest}:v1", tmp_path=tmp_path)
    manifest, media_type, blobs = read_layout(dest, "v1")
    assert media_type == OCI_MANIFEST
    assert manifest == img["manifest"]
    assert digest_of(manifest) == img["digest"]
    parsed = json.loads(manifest)
    assert parsed["config"]["digest"] == digest_of(img["config"])
    assert blobs[parsed["config"]["digest"]] == img["config"]
    assert [l["digest"] for l in parsed["layers"]] == [digest_of(l) for l in img["layers"]]
    for layer in img["layers"]:
        assert blobs[digest_of(layer)] == layer

    # And by digest, and the tag list.
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/team/app@{img['digest']}",
                 tmp_path=tmp_path)
    assert raw == img["manifest"]
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/team/app",
                             tmp_path=tmp_path))
    assert tags["Tags"] == ["v1"]


def test_skopeo_push_of_same_image_twice_and_to_second_repo(registry, tmp_path):
    """The second push finds every blob present (HEAD 200) or mounts it from the first repo."""
    layout = Layout(tmp_path / "src")
    img = layout.add_image(nlayers=2)
    layout.tag("v1", OCI_MANIFEST, img["manifest"])
    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/app:v1", tmp_path=tmp_path)
    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/app:v2", tmp_path=tmp_path)
    copy_to_registry(f"oci:{layout.path}:v1", registry, "other/app:v1", tmp_path=tmp_path)
    for ref in ("team/app:v1", "team/app:v2", "other/app:v1"):
        assert inspect_raw(registry, ref, tmp_path=tmp_path) == img["manifest"]
    dest = tmp_path / "back"
    copy_from_registry(registry, "other/app:v1", f"oci:{dest}:v1", tmp_path=tmp_path)
    manifest, _, blobs = read_layout(dest, "v1")
    assert manifest == img["manifest"]
    for layer in img["layers"]:
        assert blobs[digest_of(layer)] == layer


def test_skopeo_docker_schema2_push_serves_v2s2_manifest(registry, tmp_path):
    layout = Layout(tmp_path / "src")
    img = layout.add_image(nlayers=3)
    layout.tag("v1", OCI_MANIFEST, img["manifest"])

    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/docker:v1", "--format", "v2s2", tmp_path=tmp_path)

    raw = inspect_raw(registry, "team/docker:v1", tmp_path=tmp_path)
    parsed = json.loads(raw)
    assert parsed["mediaType"] == DOCKER_MANIFEST
    assert parsed["config"]["mediaType"] == DOCKER_CONFIG
    assert [l["digest"] for l in parsed["layers"]] == [digest_of(l) for l in img["layers"]]
    assert {l["mediaType"] for l in parsed["layers"]} == {DOCKER_LAYER_GZIP}
    r = registry_manifest(registry, "team/docker:v1")
    assert r.content == raw
    assert r.headers.get("Content-Type") == DOCKER_MANIFEST
    assert r.headers.get("Docker-Content-Digest") == digest_of(raw)

    dest = tmp_path / "back"
    copy_from_registry(registry, "team/docker:v1", f"dir:{dest}", tmp_path=tmp_path)
    with open(dest / "manifest.json", "rb") as f:
        assert f.read() == raw
    for d in [parsed["config"]["digest"]] + [l["digest"] for l in parsed["layers"]]:
        with open(dest / d.split(":", 1)[1], "rb") as f:
            assert digest_of(f.read()) == d
    for layer in img["layers"]:
        with open(dest / digest_of(layer).split(":", 1)[1], "rb") as f:
            assert f.read() == layer


def build_multi_arch(tmp_path):
    layout = Layout(tmp_path / "src")
    images = [layout.add_image(nlayers=2, arch=arch) for arch in ("amd64", "arm64")]
    index = layout.add_index(images)
    layout.tag("v1", OCI_INDEX, index["manifest"])
    return layout, index


def test_skopeo_copy_all_pushes_multi_arch_oci_index(registry, tmp_path):
    layout, index = build_multi_arch(tmp_path)
    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/multi:v1", "--all", tmp_path=tmp_path)

    raw = inspect_raw(registry, "team/multi:v1", tmp_path=tmp_path)
    assert raw == index["manifest"]
    r = registry_manifest(registry, "team/multi:v1")
    assert r.content == index["manifest"]
    assert r.headers.get("Content-Type") == OCI_INDEX
    assert r.headers.get("Docker-Content-Digest") == index["digest"]
    for img in index["images"]:
        c = registry_manifest(registry, f"team/multi@{img['digest']}")
        assert c.content == img["manifest"]
        assert c.headers.get("Content-Type") == OCI_MANIFEST

    dest = tmp_path / "back"
    copy_from_registry(registry, "team/multi:v1", f"oci:{dest}:v1", "--all", tmp_path=tmp_path)
    manifest, media_type, blobs = read_layout(dest, "v1")
    assert media_type == OCI_INDEX
    assert manifest == index["manifest"]
    assert blobs == layout.blobs


def test_skopeo_copy_all_v2s2_pushes_docker_manifest_list(registry, tmp_path):
    layout, index = build_multi_arch(tmp_path)
    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/list:v1", "--all", "--format", "v2s2",
                     tmp_path=tmp_path)

    raw = inspect_raw(registry, "team/list:v1", tmp_path=tmp_path)
    parsed = json.loads(raw)
    assert parsed["mediaType"] == DOCKER_LIST
    r = registry_manifest(registry, "team/list:v1")
    assert r.content == raw
    assert r.headers.get("Content-Type") == DOCKER_LIST
    assert r.headers.get("Docker-Content-Digest") == digest_of(raw)
    assert sorted(m["platform"]["architecture"] for m in parsed["manifests"]) == ["amd64", "arm64"]
    for entry in parsed["manifests"]:
        assert entry["mediaType"] == DOCKER_MANIFEST
        c = registry_manifest(registry, f"team/list@{entry['digest']}")
        assert c.headers.get("Content-Type") == DOCKER_MANIFEST
        assert digest_of(c.content) == entry["digest"] and len(c.content) == entry["size"]

    # Pull one platform back, as `docker pull` on that platform would.
    dest = tmp_path / "arm64"
    skopeo("--override-arch", "arm64", "copy", "--src-tls-verify=false",
           f"docker://{registry.host}/team/list:v1", f"dir:{dest}", tmp_path=tmp_path)
    arm = next(img for img in index["images"] if img["arch"] == "arm64")
    for layer in arm["layers"]:
        assert os.path.exists(dest / digest_of(layer).split(":", 1)[1])
