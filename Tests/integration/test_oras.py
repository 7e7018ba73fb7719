"""Artifact round trips with oras-py and python-dxf."""

import json
import os

import oras.client
import pytest
import requests
from dxf import DXF

from regutil import MANIFEST_ACCEPT, OCI_MANIFEST, TIMEOUT, describe, digest_of, random_bytes


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def artifact_files(tmp_path, monkeypatch):
    """Two files under the cwd (oras-py only pushes paths relative to the working directory)."""
    src = tmp_path / "src"
    src.mkdir()
    files = {"readme.txt": b"hello from berth\n" * 100, "payload.bin": random_bytes(300_000)}
    for name, data in files.items():
        write(src / name, data)
    monkeypatch.chdir(src)
    return files


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_oras_push_pull_artifact_with_two_files(registry, artifact_files, tmp_path, chunked):
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    target = f"{registry.host}/team/artifact:v1"
    kwargs = {"do_chunked": True, "chunk_size": 64 * 1024} if chunked else {}
    resp = client.push(target=target, files=list(artifact_files), **kwargs)
    assert resp.status_code == 201, describe(resp)

    out = tmp_path / "out"
    out.mkdir()
    pulled = client.pull(target=target, outdir=str(out))
    assert sorted(os.path.basename(p) for p in pulled) == sorted(artifact_files)
    for name, data in artifact_files.items():
        with open(out / name, "rb") as f:
            assert f.read() == data, name

    r = requests.get(f"{registry.base_url}/v2/team/artifact/manifests/v1", headers={"Accept": MANIFEST_ACCEPT},
                     timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") == OCI_MANIFEST
    layers = json.loads(r.content)["layers"]
    assert sorted(l["digest"] for l in layers) == sorted(digest_of(d) for d in artifact_files.values())
    assert client.get_tags(f"{registry.host}/team/artifact") == ["v1"]


def test_dxf_blob_and_alias_round_trip(registry, tmp_path):
    client = DXF(registry.host, "team/dxf", insecure=True)
    body, resp = client.api_version_check()
    assert json.loads(body) == {}
    assert resp.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"

    file_data = random_bytes(200_000)
    write(tmp_path / "blob.bin", file_data)
    d1 = client.push_blob(str(tmp_path / "blob.bin"))  # PUT with Content-Length
    assert d1 == digest_of(file_data)

    stream_data = random_bytes(150_000)
    d2 = digest_of(stream_data)
    chunks = (stream_data[i:i + 8192] for i in range(0, len(stream_data), 8192))
    assert client.push_blob(data=chunks, digest=d2) == d2  # PUT with Transfer-Encoding: chunked

    # Already there: dxf HEADs first and skips the upload.
    assert client.push_blob(str(tmp_path / "blob.bin")) == d1

    assert b"".join(client.pull_blob(d1)) == file_data
    it, size = client.pull_blob(d2, size=True)
    assert size == len(stream_data)
    assert b"".join(it) == stream_data
    assert client.blob_size(d1) == len(file_data)

    client.set_alias("v1", d1, d2)
    assert client.get_alias("v1") == [d1, d2]
    assert client.list_aliases() == ["v1"]
    digest, resp = client.head_manifest_and_response("v1")
    assert resp.status_code == 200 and digest and digest.startswith("sha256:")

    other = DXF(registry.host, "team/other", insecure=True)
    assert other.mount_blob("team/dxf", d1) == d1
    assert b"".join(other.pull_blob(d1)) == file_data

    client.del_alias("v1")
    with pytest.raises(requests.HTTPError) as e:
        client.get_alias("v1")
    assert e.value.response.status_code == 404
