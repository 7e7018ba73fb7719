"""Kill points in pushes and deletes (test_crash.py): inside a PATCH, between the last chunk and the PUT, inside
the PUT's commit, at each rename of a manifest PUT that moves a tag, inside tag and manifest deletes.

Where a call names a path of the layout (a blob's `data`, a tag's directory, an upload's hash state) the point
is that call on that path (`-P`); where it names only a temporary file, it is the Nth rename of the one pool
thread that makes the whole sequence, and the disk is checked before the restart to show where it landed.
"""

import os

import requests

from crashharness import exists
from crashutil import Upload
from regutil import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, canonical, descriptor, describe, digest_of

CHUNKS = (1_500_000, 1_000_000, 700_001)  # the first two end off a 4 KiB boundary, the last is odd


def split(data):
    out, start = [], 0
    for n in CHUNKS:
        out.append((start, data[start:start + n]))
        start += n
    return out


def chunked_upload(h, repo, acked_chunks):
    """An upload with its first `acked_chunks` PATCHes answered 202: (url, data, chunks, acked offset)."""
    data = os.urandom(sum(CHUNKS))
    chunks = split(data)
    url = h.begin(repo)
    for start, chunk in chunks[:acked_chunks]:
        url = h.patch(url, chunk, start)
    acked = chunks[acked_chunks][0] if acked_chunks < len(chunks) else len(data)
    return url, data, chunks, acked


def patch_points(h):
    """Kills inside a PATCH: while its body is written, before and inside its checkpoint, after it."""
    repo = "crash/patch"
    specs = [
        # (name, syscalls, path of, when, acked chunks, may the chunk count)
        ("PATCH: first pwrite64 of the chunk", "pwrite64", "data", 1, 1, False),
        ("PATCH: write-back started after the first write", "sync_file_range", "data", 1, 1, False),
        ("PATCH of the first chunk: first pwrite64", "pwrite64", "data", 1, 0, False),
        ("PATCH: fdatasync before the checkpoint", "fdatasync", "data", 1, 2, False),
        ("PATCH: checkpoint directory made (before the state file)", "mkdir", "hashstates", 1, 1, False),
        ("PATCH: old hash state removed (after the checkpoint)", "unlink", "old state", 1, 1, True),
    ]
    for name, syscalls, target, when, acked_chunks, counts in specs:
        url, data, chunks, acked = chunked_upload(h, repo, acked_chunks)
        uid = h.upload_id(url)
        start, chunk = chunks[acked_chunks]
        path = {"data": h.layout.upload(repo, uid) + "/data",
                "hashstates": h.layout.upload(repo, uid) + "/hashstates/sha256",
                "old state": h.layout.hash_state(repo, uid, acked)}[target]
        up = Upload(repo, url, data, acked)
        if counts:
            up.offsets.add(start + len(chunk))
        h.ledger.uploads.append(up)
        h.ledger.maybe_blob(repo, data)
        states = h.layout.upload(repo, uid) + "/hashstates/sha256"

        def check(_, states=states, end=str(start + len(chunk)), counts=counts, name=name):
            # Only the point after the checkpoint finds the chunk's hash state saved.
            assert (end in os.listdir(states)) == counts, f"{name}: hash states {os.listdir(states)}"
        h.point(name, syscalls, [path], when, action=lambda: h.patch(url, chunk, start), expect=check)

    # The checkpoint's own rename: the first rename in the thread that saves it (nothing else renames meanwhile).
    url, data, chunks, acked = chunked_upload(h, repo, 1)
    uid = h.upload_id(url)
    start, chunk = chunks[1]
    h.ledger.uploads.append(Upload(repo, url, data, acked))
    states = h.layout.upload(repo, uid) + "/hashstates/sha256"

    def checkpoint_not_renamed(_):
        names = os.listdir(states)
        assert str(start + len(chunk)) not in names and any(n.startswith(".tmp-") for n in names), names
    h.point("PATCH: checkpoint rename of the new hash state", "rename", [], 1,
            action=lambda: h.patch(url, chunk, start), expect=checkpoint_not_renamed)


def put_points(h):
    """Kills between the last chunk and the PUT, and inside the PUT's commit: flush, move, link, retire."""
    repo = "crash/put"
    # Between the last PATCH's 202 and the PUT: no call in flight.
    url, data, _, acked = chunked_upload(h, repo, 3)
    h.ledger.uploads.append(Upload(repo, url, data, acked))
    h.ledger.maybe_blob(repo, data)
    h.plain_kill("between the last PATCH and the PUT")

    specs = [
        # (name, syscalls, path, when, expect(layout, repo, uid, digest))
        ("PUT: fdatasync of the upload before the move", "fdatasync", "data", 1,
         lambda L, r, u, d: not exists(L.blob_data(d)) and exists(L.upload(r, u) + "/data")),
        ("PUT: blob directory made", "mkdir", "blob dir", 1,
         lambda L, r, u, d: not exists(L.blob_data(d))),
        ("PUT: rename of the upload into the blob store", "rename", "data", 1,
         lambda L, r, u, d: not exists(L.blob_data(d)) and exists(L.upload(r, u) + "/data")),
        ("PUT: fsync of the blob directory after the move", "openat", "blob dir", 1,
         lambda L, r, u, d: exists(L.blob_data(d)) and not exists(L.layer_link(r, d))),
        ("PUT: layer link directory made (blob stored, not linked)", "mkdir", "link dir", 1,
         lambda L, r, u, d: exists(L.blob_data(d)) and not exists(L.layer_link(r, d))),
        ("PUT: fsync after the layer link rename", "openat", "link dir", 1,
         lambda L, r, u, d: exists(L.layer_link(r, d)) and exists(L.upload(r, u))),
        ("PUT: retire rename of the finished upload", "rename", "upload dir", 1,
         lambda L, r, u, d: exists(L.layer_link(r, d)) and exists(L.upload(r, u))),
    ]
    for name, syscalls, target, when, expect in specs:
        url, data, _, acked = chunked_upload(h, repo, 3)
        uid, d = h.upload_id(url), digest_of(data)
        path = {"data": h.layout.upload(repo, uid) + "/data", "blob dir": h.layout.blob_dir(d),
                "link dir": os.path.dirname(h.layout.layer_link(repo, d)),
                "upload dir": h.layout.upload(repo, uid)}[target]
        h.ledger.uploads.append(Upload(repo, url, data, acked))
        h.ledger.maybe_blob(repo, data)

        def check(value, expect=expect, uid=uid, d=d, name=name):
            assert expect(h.layout, repo, uid, d), f"{name}: the disk does not show the kill where it was aimed"
        h.point(name, syscalls, [path], when, action=lambda: h.put(url, d), expect=check)

    # The layer link's own rename: the second rename of the committing thread (the first moved the blob).
    url, data, _, acked = chunked_upload(h, repo, 3)
    d = digest_of(data)
    h.ledger.uploads.append(Upload(repo, url, data, acked))
    h.ledger.maybe_blob(repo, data)

    def link_not_renamed(_):
        assert exists(h.layout.blob_data(d)) and not exists(h.layout.layer_link(repo, d))
    h.point("PUT: rename of the layer link", "rename", [], 2, action=lambda: h.put(url, d), expect=link_not_renamed)

    # A PUT carrying the whole body (monolithic): killed while writing it, and at the move.
    for name, syscalls, target in (("PUT with the whole body: first pwrite64", "pwrite64", "data"),
                                   ("PUT with the whole body: rename into the blob store", "rename", "data")):
        data = os.urandom(2_345_678)
        url = h.begin(repo)
        path = h.layout.upload(repo, h.upload_id(url)) + "/data"
        h.ledger.uploads.append(Upload(repo, url, data, 0))
        h.ledger.uploads[-1].offsets.add(len(data))
        h.ledger.maybe_blob(repo, data)
        h.point(name, syscalls, [path], action=lambda: h.put(url, digest_of(data), data))


def image(h, repo):
    """Config and two layers pushed (201 each): the blobs a manifest can reference."""
    config = canonical({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex()})
    layers = [os.urandom(5000), os.urandom(7000)]
    for blob in (config, *layers):
        h.push_blob(repo, blob)
    return config, layers


def manifest_for(config, layers):
    return canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                      "layers": [descriptor(OCI_LAYER_GZIP, l) for l in layers],
                      "annotations": {"nonce": os.urandom(8).hex()}})


def manifest_points(h):
    """Kills in a manifest PUT that moves a tag: at each of its renames (one pool thread makes them all, in
    this order: the manifest's bytes, the revision link, the tag's index link, the tag's current link)."""
    repo = "crash/app"
    config, layers = image(h, repo)
    first = manifest_for(config, layers)
    r = h.push_manifest(repo, "v1", first, OCI_MANIFEST)
    assert r.status_code == 201, describe(r)
    h.ledger.manifest(repo, first, OCI_MANIFEST, tag="v1")
    L = h.layout

    def current(tag):
        with open(L.tag_current(repo, tag)) as f:
            return f.read().strip()

    specs = [
        ("manifest PUT: rename of the manifest's bytes", 1, lambda d: not exists(L.blob_data(d))),
        ("manifest PUT: rename of the revision link", 2,
         lambda d: exists(L.blob_data(d)) and not exists(L.revision_link(repo, d))),
        ("manifest PUT: rename of the tag's index link (manifest stored, tag not moved)", 3,
         lambda d: exists(L.revision_link(repo, d)) and not exists(L.tag_index(repo, "v1", d))),
        ("manifest PUT: rename of the tag's current link", 4,
         lambda d: exists(L.tag_index(repo, "v1", d)) and current("v1") != d),
    ]
    for name, when, expect in specs:
        body = manifest_for(config, layers)
        d = digest_of(body)
        h.ledger.maybe_manifest(repo, body, OCI_MANIFEST, tag="v1")

        def check(value, expect=expect, d=d, name=name):
            assert expect(d), f"{name}: the disk does not show the kill where it was aimed"
        h.point(name, "rename", [], when, action=lambda: h.push_manifest(repo, "v1", body, OCI_MANIFEST),
                expect=check)

    body = manifest_for(config, layers)
    d = digest_of(body)
    h.ledger.maybe_manifest(repo, body, OCI_MANIFEST, tag="v1")
    h.point("manifest PUT: fsync after the tag's current link moved", "openat",
            [os.path.dirname(L.tag_current(repo, "v1"))], 1,
            action=lambda: h.push_manifest(repo, "v1", body, OCI_MANIFEST),
            expect=lambda _: current("v1") == d)

    # The first manifest of a new repository also replaces the catalog marker (its third rename).
    fresh = "crash/fresh"
    config2, layers2 = image(h, fresh)
    body = manifest_for(config2, layers2)
    h.ledger.maybe_manifest(fresh, body, OCI_MANIFEST, tag="latest")
    h.point("manifest PUT in a new repository: rename of the catalog marker", "rename", [], 3,
            action=lambda: h.push_manifest(fresh, "latest", body, OCI_MANIFEST),
            expect=lambda _: exists(L.revision_link(fresh, digest_of(body))))
    cat = requests.get(f"{h.base}/v2/_catalog", timeout=30).json()["repositories"]
    assert fresh in cat, f"{fresh} has a manifest after the restart but is not in the catalog: {cat}"


def delete_points(h):
    """Kills while deleting a tag and while deleting a manifest by digest."""
    repo = "crash/app"
    config, layers = image(h, repo)
    for tag in ("gone", "gone2"):
        body = manifest_for(config, layers)
        r = h.push_manifest(repo, tag, body, OCI_MANIFEST)
        assert r.status_code == 201, describe(r)
        h.ledger.manifest(repo, body, OCI_MANIFEST, tag=tag)
    h.ledger.tags[(repo, "gone")].add(None)
    h.point("tag DELETE: unlink of the current link", "unlink", [h.layout.tag_current(repo, "gone")], 1,
            action=lambda: requests.delete(f"{h.base}/v2/{repo}/manifests/gone", timeout=30))

    d = digest_of(body)
    h.ledger.tags[(repo, "gone2")].add(None)
    h.ledger.maybe_manifests[(repo, d)] = h.ledger.manifests.pop((repo, d))
    h.point("manifest DELETE: unlink of the revision link (its tag gone first)", "unlink",
            [h.layout.revision_link(repo, d)], 1,
            action=lambda: requests.delete(f"{h.base}/v2/{repo}/manifests/{d}", timeout=30),
            expect=lambda _: not exists(h.layout.tag_current(repo, "gone2")))
