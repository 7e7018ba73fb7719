"""Manifests and tags over raw HTTP (OCI distribution spec "Pulling manifests",
"Pushing manifests", "Listing tags", "Deleting manifests")."""

import json

import pytest
import requests

from regutil import (DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST,
                     TIMEOUT, assert_error, canonical, describe, descriptor, digest_of, get_manifest,
                     location, push_blob, push_image, push_manifest, random_bytes, raw_request,
                     SocketReader, connect, read_response)


def test_oci_manifest_by_tag_and_by_digest_returns_identical_bytes_and_headers(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v1")
    assert img["response"].status_code == 201, describe(img["response"])
    for ref in ("v1", img["digest"]):
        r = get_manifest(base, "team/app", ref)
        assert r.status_code == 200, describe(r)
        assert r.content == img["manifest"]
        assert r.headers.get("Content-Type") == OCI_MANIFEST, describe(r)
        assert r.headers.get("Docker-Content-Digest") == digest_of(r.content)
        assert r.headers.get("Content-Length") == str(len(img["manifest"]))


def test_manifest_bytes_are_kept_verbatim(registry):
    """Whitespace and key order are the client's: the digest is over the exact bytes."""
    base = registry.base_url
    cfg, layer = b"{}", random_bytes(100)
    push_blob(base, "team/raw", cfg)
    push_blob(base, "team/raw", layer)
    body = ('{\n   "schemaVersion": 2,\n   "mediaType": "%s",\n   "layers": [%s],\n'
            '   "config": %s\n}\n' % (OCI_MANIFEST, json.dumps(descriptor(OCI_LAYER_GZIP, layer), indent=7),
                                       json.dumps(descriptor(OCI_CONFIG, cfg)))).encode()
    r = push_manifest(base, "team/raw", "pretty", body, OCI_MANIFEST)
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest_of(body)
    g = get_manifest(base, "team/raw", digest_of(body))
    assert g.status_code == 200 and g.content == body, describe(g)


def test_docker_schema2_manifest_keeps_its_content_type(registry):
    base = registry.base_url
    img = push_image(base, "team/docker", "v1", docker=True)
    assert img["response"].status_code == 201, describe(img["response"])
    r = get_manifest(base, "team/docker", "v1")
    assert r.status_code == 200 and r.content == img["manifest"], describe(r)
    assert r.headers.get("Content-Type") == DOCKER_MANIFEST


def test_manifest_put_is_201_with_location_and_digest(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "latest")
    r = img["response"]
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == img["digest"]
    g = requests.get(location(r), headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    assert g.status_code == 200 and g.content == img["manifest"], describe(g)


def test_manifest_put_by_digest_is_201_and_not_tagged(registry):
    base = registry.base_url
    tagged = push_image(base, "team/app", "v1")
    assert tagged["response"].status_code == 201
    img = push_image(base, "team/app", None)
    r = img["response"]
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == img["digest"]
    g = get_manifest(base, "team/app", img["digest"])
    assert g.status_code == 200 and g.content == img["manifest"], describe(g)
    tags = requests.get(f"{base}/v2/team/app/tags/list", timeout=TIMEOUT).json()
    assert tags["tags"] == ["v1"]


def test_head_manifest_has_length_and_digest_and_no_body(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v1")
    for ref in ("v1", img["digest"]):
        r = get_manifest(base, "team/app", ref, method="HEAD")
        assert r.status_code == 200, describe(r)
        assert r.content == b""
        assert r.headers.get("Content-Length") == str(len(img["manifest"]))
        assert r.headers.get("Docker-Content-Digest") == img["digest"]
        assert r.headers.get("Content-Type") == OCI_MANIFEST
    # No body on the wire either (a raw socket sees exactly the head, then EOF).
    with connect(registry.host) as s:
        s.sendall((f"HEAD /v2/team/app/manifests/v1 HTTP/1.1\r\nHost: {registry.host}\r\n"
                   f"Accept: {OCI_MANIFEST}\r\nConnection: close\r\n\r\n").encode())
        rd = SocketReader(s)
        raw = read_response(rd, method="HEAD")
        assert raw.status == 200, raw
        assert raw.header("content-length") == str(len(img["manifest"]))
        assert rd.read_to_eof() == b"", "bytes after the head of a HEAD response"


def test_manifest_with_missing_layer_is_400_manifest_blob_unknown(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v1", push_layers=False)
    assert_error(img["response"], 400, "MANIFEST_BLOB_UNKNOWN")
    assert get_manifest(base, "team/app", "v1").status_code == 404


def test_manifest_with_missing_config_is_400_manifest_blob_unknown(registry):
    base = registry.base_url
    layer = random_bytes(100)
    push_blob(base, "team/app", layer)
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": descriptor(OCI_CONFIG, b'{"missing":true}'),
                      "layers": [descriptor(OCI_LAYER_GZIP, layer)]})
    assert_error(push_manifest(base, "team/app", "v1", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")


def test_non_json_manifest_is_400_manifest_invalid(registry):
    r = push_manifest(registry.base_url, "team/app", "v1", b"this is not json {", OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert get_manifest(registry.base_url, "team/app", "v1").status_code == 404


def big_manifest():
    # Valid JSON, just over 4 MiB, all blobs absent: the size must be what rejects it.
    pad = "x" * (4 * 1024 * 1024 + 1024)
    return canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": descriptor(OCI_CONFIG, b"{}"), "layers": [],
                      "annotations": {"pad": pad}})


def put_big_manifest(registry):
    """Raw socket: a server that answers before reading the whole body must not break the test."""
    body = big_manifest()
    head = (f"PUT /v2/team/big/manifests/v1 HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Content-Type: {OCI_MANIFEST}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return raw_request(registry.host, head.encode() + body, method="PUT")


def test_manifest_over_4mib_is_rejected(registry):
    r = put_big_manifest(registry)
    assert r.status in (400, 413), r
    if r.status == 400:
        codes = [e["code"] for e in json.loads(r.body)["errors"]]
        assert set(codes) & {"MANIFEST_INVALID", "SIZE_INVALID"}, r
    assert requests.get(f"{registry.base_url}/v2/", timeout=TIMEOUT).status_code == 200
    assert get_manifest(registry.base_url, "team/big", "v1").status_code == 404


@pytest.mark.berth_only  # the reference answers 400 MANIFEST_INVALID ("http: request body too large")
def test_manifest_over_4mib_is_413(registry):
    r = put_big_manifest(registry)
    assert r.status == 413, r


def test_manifest_of_exactly_4mib_is_accepted(registry):
    """The spec: registries SHOULD accept manifests of at least 4 MiB."""
    base = registry.base_url
    push_blob(base, "team/big", b"{}")
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, b"{}"),
           "layers": [], "annotations": {"pad": ""}}
    size = len(canonical(doc))
    doc["annotations"]["pad"] = "y" * (4 * 1024 * 1024 - size)
    body = canonical(doc)
    assert len(body) == 4 * 1024 * 1024
    r = push_manifest(base, "team/big", "v1", body, OCI_MANIFEST)
    assert r.status_code == 201, describe(r)
    assert get_manifest(base, "team/big", "v1").content == body


def test_put_by_digest_that_does_not_match_is_400_digest_invalid(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v1")
    wrong = digest_of(img["manifest"] + b" ")
    r = push_manifest(base, "team/app", wrong, img["manifest"], OCI_MANIFEST)
    assert_error(r, 400, "DIGEST_INVALID")
    assert get_manifest(base, "team/app", wrong).status_code == 404


def test_unknown_tag_is_404_manifest_unknown(registry):
    base = registry.base_url
    assert_error(get_manifest(base, "team/app", "nope"), 404, "MANIFEST_UNKNOWN")
    push_image(base, "team/app", "v1")
    assert_error(get_manifest(base, "team/app", "nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(get_manifest(base, "team/app", digest_of(b"nope")), 404, "MANIFEST_UNKNOWN")
    assert get_manifest(base, "team/app", "nope", method="HEAD").status_code == 404


def index_body(media_type, children):
    return canonical({"schemaVersion": 2, "mediaType": media_type, "manifests": [
        descriptor(mt, body, platform={"architecture": arch, "os": "linux"}) for mt, body, arch in children]})


@pytest.mark.parametrize("list_type,child_type", [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, DOCKER_MANIFEST)])
def test_index_referencing_missing_child_manifest_is_400(registry, list_type, child_type):
    base = registry.base_url
    present = push_image(base, "team/multi", "amd64", docker=child_type == DOCKER_MANIFEST)
    assert present["response"].status_code == 201
    missing = canonical({"schemaVersion": 2, "mediaType": child_type, "config": descriptor(OCI_CONFIG, b"{}"),
                         "layers": [], "nonce": random_bytes(4).hex()})
    body = index_body(list_type, [(child_type, present["manifest"], "amd64"), (child_type, missing, "arm64")])
    r = push_manifest(base, "team/multi", "v1", body, list_type)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "MANIFEST_INVALID", "BLOB_UNKNOWN")
    assert get_manifest(base, "team/multi", "v1").status_code == 404


@pytest.mark.parametrize("list_type,child_type", [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, DOCKER_MANIFEST)])
def test_index_with_all_children_present_round_trips(registry, list_type, child_type):
    base = registry.base_url
    docker = child_type == DOCKER_MANIFEST
    a = push_image(base, "team/multi", "amd64", docker=docker)
    b = push_image(base, "team/multi", "arm64", docker=docker)
    body = index_body(list_type, [(child_type, a["manifest"], "amd64"), (child_type, b["manifest"], "arm64")])
    r = push_manifest(base, "team/multi", "v1", body, list_type)
    assert r.status_code == 201, describe(r)
    g = get_manifest(base, "team/multi", "v1")
    assert g.status_code == 200 and g.content == body, describe(g)
    assert g.headers.get("Content-Type") == list_type
    assert g.headers.get("Docker-Content-Digest") == digest_of(body)
    for child in (a, b):
        c = get_manifest(base, "team/multi", child["digest"])
        assert c.status_code == 200 and c.content == child["manifest"]


@pytest.mark.berth_only  # OCI spec v1.1: tags MUST be in lexical order; distribution 2.8 returns
# them in directory-listing order (e.g. ["latest", "v2", "1.0"]).
def test_tags_list_returns_pushed_tags_sorted(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v2")
    for tag in ("latest", "1.0"):
        r = push_manifest(base, "team/app", tag, img["manifest"], OCI_MANIFEST)
        assert r.status_code == 201, describe(r)
    r = requests.get(f"{base}/v2/team/app/tags/list", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert r.json() == {"name": "team/app", "tags": ["1.0", "latest", "v2"]}


def test_tags_list_returns_every_pushed_tag(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v2")
    for tag in ("latest", "1.0"):
        assert push_manifest(base, "team/app", tag, img["manifest"], OCI_MANIFEST).status_code == 201
    r = requests.get(f"{base}/v2/team/app/tags/list", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert body["name"] == "team/app" and sorted(body["tags"]) == ["1.0", "latest", "v2"]


def test_tags_list_of_unknown_repository_is_404_name_unknown(registry):
    r = requests.get(f"{registry.base_url}/v2/team/none/tags/list", timeout=TIMEOUT)
    assert_error(r, 404, "NAME_UNKNOWN")


def test_retagging_moves_the_tag(registry):
    base = registry.base_url
    a = push_image(base, "team/app", "v1")
    b = push_image(base, "team/app", "v1")
    assert a["digest"] != b["digest"]
    assert get_manifest(base, "team/app", "v1").content == b["manifest"]
    assert get_manifest(base, "team/app", a["digest"]).content == a["manifest"]


def test_delete_manifest_by_digest_is_202_then_404(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v1")
    r = requests.delete(f"{base}/v2/team/app/manifests/{img['digest']}", timeout=TIMEOUT)
    assert r.status_code == 202, describe(r)
    assert_error(get_manifest(base, "team/app", img["digest"]), 404, "MANIFEST_UNKNOWN")
    assert_error(get_manifest(base, "team/app", "v1"), 404, "MANIFEST_UNKNOWN")
