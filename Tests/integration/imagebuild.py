"""Build OCI image layouts in Python and drive skopeo."""

import gzip
import io
import json
import os
import subprocess
import tarfile

from regutil import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, digest_of, random_bytes

SKOPEO_TIMEOUT = 180


def make_layer(nfiles=3, size=20_000):
    """A gzip'd tar with a few files of random content. Returns (compressed, uncompressed)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(nfiles):
            content = random_bytes(size)
            info = tarfile.TarInfo(name=f"data/file-{i}-{content[:4].hex()}.bin")
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), raw


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, path):
        self.path = str(path)
        self.blobs = {}  # digest -> bytes
        os.makedirs(os.path.join(self.path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(self.path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def add_blob(self, data):
        d = digest_of(data)
        with open(os.path.join(self.path, "blobs", "sha256", d.split(":", 1)[1]), "wb") as f:
            f.write(data)
        self.blobs[d] = data
        return d

    def add_image(self, nlayers=3, arch="amd64", nfiles=3, layer_size=20_000, history="berth-integration-test"):
        """An image of `nlayers` layers (make_layer(nfiles, layer_size)), its config's history saying
        "`history` layer N". Returns its manifest, digest, config, layers and arch."""
        layers = [make_layer(nfiles=nfiles, size=layer_size) for _ in range(nlayers)]
        config = canonical_json({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(raw) for _, raw in layers]},
            "history": [{"created_by": f"{history} layer {i}"} for i in range(nlayers)],
        })
        self.add_blob(config)
        for gz, _ in layers:
            self.add_blob(gz)
        manifest = canonical_json({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": digest_of(gz), "size": len(gz)} for gz, _ in layers],
        })
        self.add_blob(manifest)
        return {"manifest": manifest, "digest": digest_of(manifest), "config": config,
                "layers": [gz for gz, _ in layers], "arch": arch}

    def add_index(self, images):
        index = canonical_json({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": img["digest"], "size": len(img["manifest"]),
                           "platform": {"architecture": img["arch"], "os": "linux"}} for img in images],
        })
        self.add_blob(index)
        return {"manifest": index, "digest": digest_of(index), "images": images}

    def tag(self, tag, media_type, manifest):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{
                "mediaType": media_type, "digest": digest_of(manifest), "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)


def read_layout(path, tag):
    """(manifest bytes, media type, {digest: bytes} of every blob) of an OCI layout directory."""
    with open(os.path.join(path, "index.json")) as f:
        index = json.load(f)
    entries = [m for m in index["manifests"]
               if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    assert len(entries) == 1, index
    blobs = {}
    bdir = os.path.join(path, "blobs", "sha256")
    for name in os.listdir(bdir):
        with open(os.path.join(bdir, name), "rb") as f:
            data = f.read()
        assert digest_of(data) == "sha256:" + name, f"{name} in {path} does not match its content"
        blobs["sha256:" + name] = data
    return blobs[entries[0]["digest"]], entries[0]["mediaType"], blobs


def skopeo(*args, tmp_path=None):
    env = dict(os.environ)
    if tmp_path is not None:
        auth = os.path.join(str(tmp_path), "auth.json")
        if not os.path.exists(auth):
            with open(auth, "w") as f:
                f.write('{"auths": {}}')
        env["REGISTRY_AUTH_FILE"] = auth
    argv = ["skopeo", "--debug", *args] if os.environ.get("SKOPEO_DEBUG") else ["skopeo", *args]
    p = subprocess.run(argv, capture_output=True, env=env, timeout=SKOPEO_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode})\nstdout: {p.stdout.decode(errors='replace')}"
                             f"\nstderr: {p.stderr.decode(errors='replace')}")
    return p.stdout


def copy_to_registry(src, registry, ref, *extra, tmp_path=None):
    return skopeo("copy", "--dest-tls-verify=false", *extra, src, f"docker://{registry.host}/{ref}",
                  tmp_path=tmp_path)


def copy_from_registry(registry, ref, dest, *extra, tmp_path=None):
    return skopeo("copy", "--src-tls-verify=false", *extra, f"docker://{registry.host}/{ref}", dest,
                  tmp_path=tmp_path)


def inspect_raw(registry, ref, tmp_path=None):
    return skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/{ref}", tmp_path=tmp_path)


def write_repositories(root, count):
    """`count` repositories written straight into registry:2's layout (one shared manifest blob), as fast as
    Python writes files: pushing 10,000 images over HTTP would measure the pushes, not the page."""
    v2 = os.path.join(root, "docker", "registry", "v2")
    manifest = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": OCI_CONFIG, "digest": digest_of(b"{}"), "size": 2}, "layers": []})
    digest = digest_of(manifest)
    for data in (manifest, b"{}"):
        d = digest_of(data).split(":", 1)[1]
        os.makedirs(os.path.join(v2, "blobs", "sha256", d[:2], d), exist_ok=True)
        with open(os.path.join(v2, "blobs", "sha256", d[:2], d, "data"), "wb") as f:
            f.write(data)
    hexdigest = digest.split(":", 1)[1]
    for i in range(count):
        repo = os.path.join(v2, "repositories", f"org{i % 100:02d}", f"service-{i:05d}", "_manifests")
        for link in (os.path.join(repo, "revisions", "sha256", hexdigest, "link"),
                     os.path.join(repo, "tags", "latest", "current", "link"),
                     os.path.join(repo, "tags", "latest", "index", "sha256", hexdigest, "link")):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            with open(link, "w") as f:
                f.write(digest)
