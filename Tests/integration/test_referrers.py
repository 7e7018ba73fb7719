"""OCI 1.1 referrers: manifests with a subject are accepted (OCI-Subject), listed by the referrers API with
artifactType filtering, and leave the list when deleted."""
import json
import os

import pytest
import requests

from regutil import assert_error, digest_of

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = b"{}"
EMPTY_DESCRIPTOR = {"mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": digest_of(EMPTY), "size": 2}


def _push_blob(base, name, data):
    r = requests.post(f"{base}/v2/{name}/blobs/uploads/?digest={digest_of(data)}", data=data,
                      headers={"Content-Type": "application/octet-stream"})
    if r.status_code == 202:  # a registry may ignore ?digest= on POST and expect the PUT (the reference does)
        location = requests.compat.urljoin(base + "/", r.headers["Location"])
        r = requests.put(f"{location}{'&' if '?' in location else '?'}digest={digest_of(data)}", data=data,
                         headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return {"mediaType": "application/octet-stream", "digest": digest_of(data), "size": len(data)}


def _push_manifest(base, name, ref, manifest):
    body = json.dumps(manifest, separators=(",", ":")).encode()
    r = requests.put(f"{base}/v2/{name}/manifests/{ref}", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return r, body


@pytest.fixture
def image(registry):
    base = registry.base_url
    config = _push_blob(base, "ref/app", b'{"architecture":"amd64","os":"linux"}')
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layer = _push_blob(base, "ref/app", b"layer bytes")
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
    _, body = _push_manifest(base, "ref/app", "v1", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                                      "config": config, "layers": [layer]})
    _push_blob(base, "ref/app", EMPTY)
    return base, {"mediaType": OCI_MANIFEST, "digest": digest_of(body), "size": len(body)}


def _artifact(base, subject, artifact_type, payload, annotations):
    layer = _push_blob(base, "ref/app", payload)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": EMPTY_DESCRIPTOR, "layers": [layer], "subject": subject, "annotations": annotations}
    r, body = _push_manifest(base, "ref/app", digest_of(json.dumps(manifest, separators=(",", ":")).encode()), manifest)
    return r, digest_of(body)


@pytest.mark.berth_only  # Distribution 2.8 predates OCI 1.1 and has no referrers API
def test_referrers_are_listed_filtered_and_removed_on_delete(image):
    base, subject = image
    r1, sig1 = _artifact(base, subject, "application/vnd.example.signature", b"sig one", {"n": "1"})
    assert r1.headers["OCI-Subject"] == subject["digest"]
    _, sig2 = _artifact(base, subject, "application/vnd.example.signature", b"sig two", {"n": "2"})
    _, sbom = _artifact(base, subject, "application/spdx+json", b"{\"spdx\":true}", {"n": "3"})

    r = requests.get(f"{base}/v2/ref/app/referrers/{subject['digest']}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    listed = {m["digest"]: m for m in index["manifests"]}
    assert set(listed) == {sig1, sig2, sbom}
    assert listed[sbom]["artifactType"] == "application/spdx+json"
    assert listed[sig1]["annotations"] == {"n": "1"}
    assert all(m["mediaType"] == OCI_MANIFEST and m["size"] > 0 for m in index["manifests"])

    r = requests.get(f"{base}/v2/ref/app/referrers/{subject['digest']}?artifactType=application/vnd.example.signature")
    assert r.headers.get("OCI-Filters-Applied") == "artifactType"
    assert {m["digest"] for m in r.json()["manifests"]} == {sig1, sig2}

    assert requests.delete(f"{base}/v2/ref/app/manifests/{sig1}").status_code == 202
    r = requests.get(f"{base}/v2/ref/app/referrers/{subject['digest']}")
    assert {m["digest"] for m in r.json()["manifests"]} == {sig2, sbom}


@pytest.mark.berth_only
def test_referrers_of_an_unknown_subject_is_an_empty_index_and_a_bad_digest_is_400(image):
    base, _ = image
    r = requests.get(f"{base}/v2/ref/app/referrers/{digest_of(b'nothing refers to me')}")
    assert r.status_code == 200 and r.json()["manifests"] == []
    r = requests.get(f"{base}/v2/ref/app/referrers/sha256:xyz")
    assert_error(r, 400, "DIGEST_INVALID")


def test_manifest_whose_subject_is_missing_is_still_accepted(image):
    base, _ = image
    missing = {"mediaType": OCI_MANIFEST, "digest": digest_of(b"not pushed"), "size": 10}
    r, _ = _artifact(base, missing, "application/vnd.example.signature", b"early sig", {"n": "0"})
    assert r.status_code == 201


@pytest.mark.berth_only  # the referrers API is OCI 1.1
def test_oras_attach_then_discover_through_the_referrers_api(image, registry, tmp_path):
    import oras.client
    import oras.oci
    base, subject = image
    signature = tmp_path / "signature.sig"
    signature.write_bytes(b"signed by oras")
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # oras-py only pushes files under the working directory
    try:
        client.push(target=f"{registry.host}/ref/app:sig", files=["signature.sig"],
                    subject=oras.oci.Subject(subject["mediaType"], subject["digest"], subject["size"]))
    finally:
        os.chdir(cwd)
    listed = requests.get(f"{base}/v2/ref/app/referrers/{subject['digest']}").json()["manifests"]
    assert len(listed) == 1
    pulled = requests.get(f"{base}/v2/ref/app/manifests/{listed[0]['digest']}",
                          headers={"Accept": OCI_MANIFEST}).json()
    assert pulled["subject"]["digest"] == subject["digest"]
    assert pulled["layers"][0]["annotations"]["org.opencontainers.image.title"] == "signature.sig"
