"""Kill points in the server's own background work (test_crash.py): an online GC run (mark and sweep), and a
pull-through mirror's cold blob download (while writing it, flushing it, moving it into the store, after).

GC: the referenced images are pushed with GC off, then the server restarts with `gc: {interval: 1s, delay: 0s}`;
each point arms strace on a blob that does not exist yet, pushes it (unreferenced: the next run removes it),
and waits for the run to reach the call. Referenced content must come through every kill intact; a blob
that nothing references may be there whole or gone, never partial.
"""

import os

import requests

from crashharness import exists
from crashutil import TIMEOUT
from regutil import OCI_CONFIG, OCI_MANIFEST, canonical, descriptor, describe, digest_of, push_blob

GC_ON = "gc: {interval: 1s, delay: 0s}\n"


def gc_points(h, config_path, base_config):
    from crashpushes import image, manifest_for  # the same images as the push points
    for repo in ("gc/app", "gc/other"):
        config, layers = image(h, repo)
        body = manifest_for(config, layers)
        r = h.push_manifest(repo, "v1", body, OCI_MANIFEST)
        assert r.status_code == 201, describe(r)
        h.ledger.manifest(repo, body, OCI_MANIFEST, tag="v1")
    h.reg.stop_cleanly()
    h.ledger.promote = False
    config_path.write_text(base_config + GC_ON)
    h.reg.start()
    L = h.layout

    def junk():
        data = os.urandom(300_000)
        h.ledger.maybe_blob("gc/junk", data)
        return data, digest_of(data)

    # The sweep moves an unreferenced blob's directory out of the store by one rename (under its shard's lock),
    # then removes the layer links that pointed at it.
    data, d = junk()
    h.point("GC sweep: rename of an unreferenced blob's directory out of the store", "rename", [L.blob_dir(d)],
            action=lambda: push_blob(h.base, "gc/junk", data), later=True,
            expect=lambda _: exists(L.blob_data(d)))
    data, d = junk()
    h.point("GC sweep: unlink of the layer link of a blob moved out (the link left dangling)", "unlink",
            [L.layer_link("gc/junk", d)], action=lambda: push_blob(h.base, "gc/junk", data), later=True,
            expect=lambda _: not exists(L.blob_dir(d)) and exists(L.layer_link("gc/junk", d)))
    tag = L.tag_current("gc/app", "v1")
    h.point("GC mark: reading a tag's link", "openat", [tag], action=lambda: None, later=True)
    repo_dir = L.repo("gc/gone")
    h.point("GC: removal of a repository left empty", "rmdir", [repo_dir], later=True,
            action=lambda: empty_repository(h, "gc/gone"))


def empty_repository(h, repo):
    """A repository that had a manifest (so GC lists it) and then lost it and its one blob link."""
    config = canonical({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex()})
    h.ledger.maybe_blob(repo, config)
    d = push_blob(h.base, repo, config)
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                      "layers": []})
    r = h.push_manifest(repo, "v1", body, OCI_MANIFEST)
    assert r.status_code == 201, describe(r)
    for path in (f"manifests/{digest_of(body)}", f"blobs/{d}"):
        r = requests.delete(f"{h.base}/v2/{repo}/{path}", timeout=TIMEOUT)
        assert r.status_code == 202, describe(r)


def mirror_points(h, upstream, blobs):
    """`blobs`: digest -> bytes, in the upstream's `mirror/big`, none of them pulled yet; one per point."""
    L = h.layout
    repo = "mirror/big"
    queue = list(blobs.items())

    def pull(digest):
        return requests.get(f"{h.base}/v2/{repo}/blobs/{digest}", timeout=TIMEOUT)

    def cut_or_whole(digest, data):
        def check(value):
            # The client in flight was cut short, or had the whole blob: never wrong or partial bytes as a 200.
            if isinstance(value, requests.Response) and value.status_code == 200:
                assert value.content == data, "a mirror client got a 200 with bytes other than the blob's"
        return check

    specs = [
        ("mirror download: first pwrite64 of the partial file", "pwrite64", "partial"),
        ("mirror download: write-back after the first bytes", "sync_file_range", "partial"),
        ("mirror download: fdatasync of the verified download", "fdatasync", "partial"),
        ("mirror download: rename of the partial file into the blob store", "rename", "partial"),
        ("mirror download: unlink of the claim's lock (blob stored)", "unlink", "lock"),
    ]
    pulled = {}
    for name, syscalls, target in specs:
        digest, data = queue.pop()
        path = {"partial": L.download_partial(digest), "lock": L.download_lock(digest)}[target]
        h.point(name, syscalls, [path], action=lambda: pull(digest), expect=cut_or_whole(digest, data))
        pulled[digest] = data
        for d, b in pulled.items():
            r = pull(d)
            assert r.status_code == 200, describe(r)
            assert r.content == b, f"{name}: the pull of {d} after the restart gave other bytes"
