"""The mirror's bounded cache: with `proxy.cache.maxsize`, the online collector (every `gc.interval`) evicts the
least recently used blobs until the blob store fits; an evicted blob is fetched again when next asked for."""
import os
import time

import pytest
import requests

from mirrorutil import (TIMEOUT, MiB, assert_same_image, blob_path, blobs_dir_size, build_image, count_requests,
                        metric, pull_through, push_to_upstream, settle_log, settled_count, start_mirror,
                        upstream_requests, wait_for_metrics, write_mirror_config)
from regutil import describe, digest_of, push_blob

pytestmark = pytest.mark.berth_only  # the mirror is Berth's; docker-registry is the upstream here

MAXSIZE = 20 * MiB


def test_the_blob_store_is_brought_back_under_maxsize_and_evicted_blobs_are_fetched_again(start_registry,
                                                                                         start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    # Five images of two incompressible 3 MiB layers: about 30 MiB of blobs for a 20 MiB cache.
    images = [build_image(tmp_path / f"src{i}", "v1", nlayers=2, layer_size=3 * MiB) for i in range(5)]
    for i, image in enumerate(images):
        push_to_upstream(image, upstream, f"team/img{i}:v1", tmp_path)
    total = sum(image["size"] for image in images)
    print(f"{total / MiB:.1f} MiB of blobs upstream, cache bound {MAXSIZE / MiB:.0f} MiB")
    assert total > MAXSIZE * 1.3

    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, maxsize="20MiB", gc_interval="1s")
    berth, root = start_mirror(start_berth, tmp_path, config)

    for i, image in enumerate(images):
        assert_same_image(pull_through(berth, f"team/img{i}:v1", tmp_path / f"pull{i}", tmp_path), image)
        print(f"after pulling img{i}: blobs dir {blobs_dir_size(root) / MiB:.1f} MiB")

    started = time.monotonic()
    deadline = started + 30
    sizes = []
    while True:
        size = blobs_dir_size(root)
        sizes.append(round(size / MiB, 1))
        if size <= MAXSIZE or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"blobs dir (MiB) every 0.5s after the last pull: {sizes}; "
          f"under the bound {time.monotonic() - started:.1f}s after the last pull")
    assert size <= MAXSIZE, f"the blob store is still {size / MiB:.1f} MiB > {MAXSIZE / MiB:.0f} MiB after 30s"

    samples = wait_for_metrics(berth, lambda s: (metric(s, "berth_mirror_evictions_total") or 0) > 0)
    print(f"evictions: {metric(samples, 'berth_mirror_evictions_total')}, "
          f"evicted bytes: {metric(samples, 'berth_mirror_evicted_bytes_total')}")
    assert (metric(samples, "berth_mirror_evictions_total") or 0) > 0

    # The last image pulled still pulls whole.
    last = images[-1]
    assert_same_image(pull_through(berth, "team/img4:v1", tmp_path / "again4", tmp_path), last)

    # The first one, least recently used, was evicted (at least in part): it pulls whole all the same,
    # its evicted blobs fetched from the upstream a second time.
    first = images[0]
    settle_log(upstream)
    before = {d: count_requests(upstream, "GET", f"/v2/team/img0/blobs/{d}") for d in first["blobs"]}
    assert_same_image(pull_through(berth, "team/img0:v1", tmp_path / "again0", tmp_path), first)
    settle_log(upstream)
    after = {d: count_requests(upstream, "GET", f"/v2/team/img0/blobs/{d}") for d in first["blobs"]}
    print(f"upstream GETs of img0's blobs before/after its second pull: {before} -> {after}")
    layers = [digest_of(layer) for layer in first["layers"]]
    assert all(before[d] == 1 for d in layers), before
    assert any(after[d] == 2 for d in layers), "none of the least recently used image's layers was fetched again"

    # And the store is brought back under the bound again.
    deadline = time.monotonic() + 30
    while blobs_dir_size(root) > MAXSIZE and time.monotonic() < deadline:
        time.sleep(0.5)
    assert blobs_dir_size(root) <= MAXSIZE


def test_blobs_that_no_cached_tag_needs_are_evicted_first(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    images = [build_image(tmp_path / f"src{i}", "v1", nlayers=2, layer_size=3 * MiB) for i in range(3)]
    for i, image in enumerate(images):
        push_to_upstream(image, upstream, f"team/img{i}:v1", tmp_path)
    lone = os.urandom(6 * MiB)
    lone_digest = push_blob(upstream.base_url, "team/lone", lone)  # in no manifest

    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, maxsize="20MiB", gc_interval="1s")
    berth, root = start_mirror(start_berth, tmp_path, config)
    for i, image in enumerate(images):  # about 18 MiB: fits
        assert_same_image(pull_through(berth, f"team/img{i}:v1", tmp_path / f"pull{i}", tmp_path), image)
    # The most recently used blob, but one that no cached tag needs: 24 MiB in all.
    r = requests.get(f"{berth.base_url}/v2/team/lone/blobs/{lone_digest}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == lone, describe(r)
    print(f"blobs dir after the lone blob: {blobs_dir_size(root) / MiB:.1f} MiB")

    deadline = time.monotonic() + 30
    while blobs_dir_size(root) > MAXSIZE and time.monotonic() < deadline:
        time.sleep(0.5)
    size = blobs_dir_size(root)
    print(f"blobs dir: {size / MiB:.1f} MiB")
    assert size <= MAXSIZE, f"the blob store is still {size / MiB:.1f} MiB after 30s"
    assert not os.path.exists(blob_path(root, lone_digest)), "the blob no tag needs was kept"
    kept = {d: os.path.exists(blob_path(root, d)) for image in images for d in image["blobs"]}
    assert all(kept.values()), f"blobs of cached tags were evicted while one no tag needs was there: {kept}"

    # The tagged images still come from the cache alone; the lone blob from the upstream again.
    settle_log(upstream)
    asked = len(upstream_requests(upstream))
    for i, image in enumerate(images):
        assert_same_image(pull_through(berth, f"team/img{i}:v1", tmp_path / f"again{i}", tmp_path), image)
    settle_log(upstream)
    assert upstream_requests(upstream)[asked:] == [], "the tagged images were fetched from the upstream again"
    r = requests.get(f"{berth.base_url}/v2/team/lone/blobs/{lone_digest}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == lone, describe(r)
    assert settled_count(upstream, "GET", f"/v2/team/lone/blobs/{lone_digest}", at_least=2) == 2
