"""Deletion: each kind, the 404 that follows, skopeo delete, and 405 UNSUPPORTED when it is disabled."""
import os
import subprocess

import pytest
import requests

from regutil import TIMEOUT, assert_error, digest_of, get_manifest, push_image


@pytest.mark.berth_only  # Distribution 2.8 cannot delete a tag alone (OCI 1.1 can)
def test_deleting_a_tag_removes_the_tag_alone(registry):
    base = registry.base_url
    image = push_image(base, "del/app", "v1")
    assert requests.put(f"{base}/v2/del/app/manifests/v2", data=image["manifest"],
                        headers={"Content-Type": image["media_type"]}).status_code == 201
    r = requests.delete(f"{base}/v2/del/app/manifests/v1", timeout=TIMEOUT)
    assert r.status_code == 202, r.text
    assert_error(get_manifest(base, "del/app", "v1"), 404, "MANIFEST_UNKNOWN")
    assert get_manifest(base, "del/app", "v2").content == image["manifest"]
    assert get_manifest(base, "del/app", image["digest"]).status_code == 200
    assert_error(requests.delete(f"{base}/v2/del/app/manifests/v1", timeout=TIMEOUT), 404, "MANIFEST_UNKNOWN")
    assert requests.get(f"{base}/v2/del/app/tags/list").json()["tags"] == ["v2"]


def test_deleting_a_manifest_by_digest_removes_every_tag_on_it(registry):
    base = registry.base_url
    image = push_image(base, "del/app", "v1")
    requests.put(f"{base}/v2/del/app/manifests/also", data=image["manifest"], headers={"Content-Type": image["media_type"]})
    assert requests.delete(f"{base}/v2/del/app/manifests/{image['digest']}", timeout=TIMEOUT).status_code == 202
    for reference in ("v1", "also", image["digest"]):
        assert_error(get_manifest(base, "del/app", reference), 404, "MANIFEST_UNKNOWN")
    assert_error(requests.delete(f"{base}/v2/del/app/manifests/{image['digest']}", timeout=TIMEOUT), 404, "MANIFEST_UNKNOWN")


def test_deleting_a_blob_link_then_404_blob_unknown(registry):
    base = registry.base_url
    image = push_image(base, "del/app", "v1")
    layer = digest_of(image["layers"][0])
    for _ in range(4):  # served (and remembered) by every worker first
        assert requests.head(f"{base}/v2/del/app/blobs/{layer}", timeout=TIMEOUT).status_code == 200
    assert requests.delete(f"{base}/v2/del/app/blobs/{layer}", timeout=TIMEOUT).status_code == 202
    assert_error(requests.get(f"{base}/v2/del/app/blobs/{layer}", timeout=TIMEOUT), 404, "BLOB_UNKNOWN")
    assert_error(requests.delete(f"{base}/v2/del/app/blobs/{layer}", timeout=TIMEOUT), 404, "BLOB_UNKNOWN")


def test_skopeo_delete_removes_the_image(registry, tmp_path):
    base = registry.base_url
    image = push_image(base, "del/skopeo", "v1")
    (tmp_path / "auth.json").write_text('{"auths": {}}')
    subprocess.run(["skopeo", "delete", "--tls-verify=false", f"docker://{registry.host}/del/skopeo:v1"],
                   check=True, capture_output=True, timeout=120, env={"REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"), "PATH": "/usr/bin:/bin"})
    assert_error(get_manifest(base, "del/skopeo", image["digest"]), 404, "MANIFEST_UNKNOWN")


@pytest.mark.berth_only  # starts Berth with deletion off
def test_every_delete_is_405_unsupported_when_deletion_is_disabled(registry):
    base = registry.base_url
    image = push_image(base, "del/app", "v1")
    registry.stop()
    os.environ["BERTH_STORAGE_DELETE_ENABLED"] = "false"
    try:
        registry.restart()
    finally:
        del os.environ["BERTH_STORAGE_DELETE_ENABLED"]
    base = registry.base_url
    for path in (f"/v2/del/app/manifests/{image['digest']}", "/v2/del/app/manifests/v1",
                 f"/v2/del/app/blobs/{digest_of(image['layers'][0])}"):
        assert_error(requests.delete(base + path, timeout=TIMEOUT), 405, "UNSUPPORTED")
    assert get_manifest(base, "del/app", "v1").status_code == 200
