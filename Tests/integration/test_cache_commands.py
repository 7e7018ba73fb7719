"""`berth cache list`, `evict` and `warm` beside a running mirror: list shows what a pull cached and its sizes, evict
makes the next pull go to the upstream again, warm makes the next pull a hit (with the upstream stopped), for every
platform of an index or only those asked for. Hostile IMAGE arguments are refused with a message."""
import json
import os
import subprocess

import pytest
import requests

from containerdutil import containerd  # noqa: F401 (a fixture)
from imagebuild import Layout, copy_to_registry
from mirrorutil import (TIMEOUT, assert_same_image, blob_path, build_image, count_requests, pull_through,
                        push_to_upstream, settle_log, start_mirror, write_mirror_config)
from regutil import OCI_INDEX, describe, digest_of

pytestmark = pytest.mark.berth_only  # the cache commands are Berth's; docker-registry is the upstream here


def berth_cache(*args, timeout=300):
    """(exit status, stdout, stderr) of `berth cache ARGS`."""
    p = subprocess.run([os.environ["BERTH_BIN"], "cache", *args], capture_output=True, text=True, timeout=timeout)
    print(f"berth cache {' '.join(args)[:200]} -> {p.returncode}\n{p.stdout}{p.stderr}")
    return p.returncode, p.stdout, p.stderr


def cache_list(config, root, *args):
    code, out, err = berth_cache("list", "--config", str(config), "--root", str(root), "--output", "json", *args)
    assert code == 0, f"cache list exited {code}: {err}"
    return json.loads(out)


def repository(listing, name):
    found = [r for r in listing["repositories"] if r["name"] == name]
    assert len(found) == 1, f"{name} not listed once in {[r['name'] for r in listing['repositories']]}"
    return found[0]


@pytest.fixture
def mirrored(start_registry, start_berth, tmp_path):
    """An upstream holding team/app:v1, and a mirror of it: (upstream, berth, root, config, image)."""
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "src", "v1", nlayers=2)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    berth, root = start_mirror(start_berth, tmp_path, config)
    return upstream, berth, root, config, image


def test_cache_list_shows_what_a_pull_cached_with_its_sizes(mirrored, tmp_path):
    upstream, berth, root, config, image = mirrored
    assert cache_list(config, root)["repositories"] == []
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pull", tmp_path), image)

    listing = cache_list(config, root)
    app = repository(listing, "team/app")
    image_bytes = image["size"] + len(image["manifest"])
    assert [t["tag"] for t in app["tags"]] == ["v1"]
    tag = app["tags"][0]
    assert tag["digest"] == image["digest"]
    assert (tag["bytes"], tag["blobs"], tag["missingBlobs"]) == (image_bytes, len(image["blobs"]) + 1, 0), tag
    assert (app["bytes"], app["blobs"]) == (image_bytes, len(image["blobs"]) + 1)
    assert tag["lastPull"] and tag["validated"]
    assert (listing["storedBytes"], listing["storedBlobs"]) == (image_bytes, len(image["blobs"]) + 1)
    assert app["untagged"] == []
    # No bound set: the preview is still the order it would take, blobs no tag needs first (there are none).
    assert {b["digest"] for b in listing["nextToEvict"]} == {*image["blobs"], image["digest"]}
    assert all(b["neededByTag"] and b["usedBy"] == ["team/app:v1"] for b in listing["nextToEvict"])

    code, out, _ = berth_cache("list", "--config", str(config), "--root", str(root), "--repo", "team/app")
    assert code == 0 and "team/app" in out and "v1 " + image["digest"] in out, out
    assert f"{len(image['blobs']) + 1} blobs" in out
    code, _, err = berth_cache("list", "--config", str(config), "--root", str(root), "--repo", "team/other")
    assert code == 1 and "no such repository" in err


def test_cache_list_counts_a_blob_shared_by_two_repositories_once(mirrored, tmp_path):
    upstream, berth, root, config, image = mirrored
    # The same image under a second name: every blob is shared.
    copy_to_registry(f"oci:{image['layout'].path}:v1", upstream, "team/copy:v1", tmp_path=tmp_path)
    pull_through(berth, "team/app:v1", tmp_path / "p1", tmp_path)
    pull_through(berth, "team/copy:v1", tmp_path / "p2", tmp_path)
    listing = cache_list(config, root)
    image_bytes = image["size"] + len(image["manifest"])
    assert repository(listing, "team/app")["bytes"] == repository(listing, "team/copy")["bytes"] == image_bytes
    assert listing["storedBytes"] == image_bytes
    users = {b["digest"]: sorted(b["usedBy"]) for b in listing["nextToEvict"]}
    assert users[image["digest"]] == ["team/app:v1", "team/copy:v1"]


def test_cache_evict_makes_the_next_pull_fetch_from_the_upstream_again(mirrored, tmp_path):
    upstream, berth, root, config, image = mirrored
    layers = [digest_of(layer) for layer in image["layers"]]
    # Twice: the second pull is served from the worker's in-memory manifest cache.
    for attempt in range(2):
        assert_same_image(pull_through(berth, "team/app:v1", tmp_path / f"pull{attempt}", tmp_path), image)
    settle_log(upstream)
    assert count_requests(upstream, "GET", "/v2/team/app/manifests/v1") == 1
    assert [count_requests(upstream, "GET", f"/v2/team/app/blobs/{d}") for d in layers] == [1, 1]

    code, out, err = berth_cache("evict", "--config", str(config), "--root", str(root), "team/app:v1")
    assert code == 0, err
    assert f"{len(image['blobs']) + 1} blobs removed" in out, out
    assert not os.path.exists(blob_path(root, layers[0]))
    assert cache_list(config, root)["repositories"] == []
    r = requests.get(berth.url("/v2/_catalog"), timeout=TIMEOUT)
    assert r.status_code == 200 and "team/app" not in r.json()["repositories"], describe(r)

    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "again", tmp_path), image)
    settle_log(upstream)
    assert count_requests(upstream, "GET", "/v2/team/app/manifests/v1") == 2
    assert [count_requests(upstream, "GET", f"/v2/team/app/blobs/{d}") for d in layers] == [2, 2]
    assert [t["tag"] for t in repository(cache_list(config, root), "team/app")["tags"]] == ["v1"]

    # By digest, then the whole repository.
    code, out, err = berth_cache("evict", "--config", str(config), "--root", str(root), f"team/app@{image['digest']}")
    assert code == 0 and "1 tags, 1 manifests" in out, out + err
    pull_through(berth, "team/app:v1", tmp_path / "third", tmp_path)
    code, out, err = berth_cache("evict", "--config", str(config), "--root", str(root), "team/app")
    assert code == 0 and "the repository" in out, out + err
    settle_log(upstream)
    assert count_requests(upstream, "GET", "/v2/team/app/manifests/v1") == 3
    code, _, err = berth_cache("evict", "--config", str(config), "--root", str(root), "team/app:v1")
    assert code == 1 and "no such repository" in err, err


def test_cache_evict_of_one_tag_keeps_what_another_tag_needs(mirrored, tmp_path):
    upstream, berth, root, config, image = mirrored
    copy_to_registry(f"oci:{image['layout'].path}:v1", upstream, "team/app:stable", tmp_path=tmp_path)
    pull_through(berth, "team/app:v1", tmp_path / "p1", tmp_path)
    pull_through(berth, "team/app:stable", tmp_path / "p2", tmp_path)
    code, out, err = berth_cache("evict", "--config", str(config), "--root", str(root), "team/app:v1")
    assert code == 0 and "1 tags, 0 manifests" in out and "0 blobs removed" in out, out + err
    app = repository(cache_list(config, root), "team/app")
    assert [t["tag"] for t in app["tags"]] == ["stable"]
    assert os.path.exists(blob_path(root, digest_of(image["layers"][0])))


def test_cache_warm_makes_the_next_pull_a_hit_with_the_upstream_stopped(mirrored, tmp_path):
    upstream, berth, root, config, image = mirrored
    code, out, err = berth_cache("warm", "--url", berth.base_url, "team/app:v1")
    assert code == 0, out + err
    assert out.startswith("warmed team/app:v1: 1 manifests, 3 blobs"), out
    settle_log(upstream)
    assert count_requests(upstream, "GET", "/v2/team/app/manifests/v1") == 1

    upstream.stop()  # by PID
    assert not upstream.running
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pull", tmp_path), image)

    # With the upstream down, a warm of what is not cached fails, and says why.
    code, out, _ = berth_cache("warm", "--url", berth.base_url, "team/app:v1", "team/absent:v1")
    assert code == 1, out
    assert out.startswith("warmed team/app:v1") and "FAILED team/absent:v1" in out and "503" in out, out


def _multi_platform(tmp_path, upstream, ref):
    layout = Layout(tmp_path / "multi")
    images = [layout.add_image(nlayers=2, arch=arch) for arch in ("amd64", "arm64")]
    index = layout.add_index(images)
    layout.tag("v1", OCI_INDEX, index["manifest"])
    copy_to_registry(f"oci:{layout.path}:v1", upstream, ref, "--all", tmp_path=tmp_path)
    return index


def test_cache_warm_with_a_platform_warms_only_that_platform_of_an_index(mirrored, tmp_path):
    upstream, berth, root, config, _ = mirrored
    index = _multi_platform(tmp_path, upstream, "team/multi:v1")
    amd64, arm64 = index["images"]
    # The mirror's address from a configuration's http.addr, as an operator runs it.
    warm_config = write_mirror_config(tmp_path, "warm", remoteurl=upstream.base_url, extra=f"http:\n  addr: {berth.host}\n")
    code, out, err = berth_cache("warm", "--config", str(warm_config), "--platform", "linux/arm64", "team/multi:v1")
    assert code == 0, out + err
    assert "2 manifests (linux/arm64), 3 blobs" in out, out
    settle_log(upstream)
    assert count_requests(upstream, "GET", f"/v2/team/multi/manifests/{arm64['digest']}") == 1
    assert count_requests(upstream, "GET", f"/v2/team/multi/manifests/{amd64['digest']}") == 0
    for layer in arm64["layers"]:
        assert count_requests(upstream, "GET", f"/v2/team/multi/blobs/{digest_of(layer)}") == 1
    for layer in amd64["layers"]:
        assert count_requests(upstream, "GET", f"/v2/team/multi/blobs/{digest_of(layer)}") == 0

    tag = repository(cache_list(config, root), "team/multi")["tags"][0]
    # amd64's manifest is not cached (nor is what it references, which only it names).
    assert tag["digest"] == index["digest"] and tag["missingBlobs"] == 1, tag

    upstream.stop()
    accept = {"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"}
    r = requests.get(berth.url("/v2/team/multi/manifests/v1"), headers=accept, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == index["manifest"], describe(r)
    r = requests.get(berth.url(f"/v2/team/multi/manifests/{arm64['digest']}"), headers=accept, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == arm64["manifest"], describe(r)
    for blob in [arm64["config"], *arm64["layers"]]:
        r = requests.get(berth.url(f"/v2/team/multi/blobs/{digest_of(blob)}"), timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == blob, describe(r)
    r = requests.get(berth.url(f"/v2/team/multi/manifests/{amd64['digest']}"), headers=accept, timeout=TIMEOUT)
    assert r.status_code == 503, describe(r)


def test_cache_warm_of_every_platform_makes_a_containerd_pull_a_hit_with_the_upstream_stopped(mirrored, tmp_path,
                                                                                             containerd):
    upstream, berth, root, config, _ = mirrored
    index = _multi_platform(tmp_path, upstream, "team/multi:v1")
    # As containerd names it: the registry's host and port, which the mirror gets as ns=.
    ref = f"{upstream.host}/team/multi:v1"
    code, out, err = berth_cache("warm", "--url", berth.base_url, ref)
    assert code == 0, out + err
    assert "3 manifests (linux/amd64, linux/arm64), 6 blobs" in out, out
    upstream.stop()  # by PID
    containerd.mirror(upstream.host, upstream.base_url, berth.base_url)
    containerd.pull(ref)
    assert ref in containerd.ctr("image", "ls", "-q").stdout.split()
    tag = repository(cache_list(config, root), "team/multi")["tags"][0]
    assert tag["digest"] == index["digest"] and tag["missingBlobs"] == 0, tag


def test_cache_warm_through_a_mirrors_entry_with_a_port_is_listed_under_its_cache_name(start_registry, start_berth,
                                                                                       tmp_path):
    default = start_registry("reference", label="default")
    other = start_registry("reference", label="other")
    image = build_image(tmp_path / "src", "v1", nlayers=1)
    push_to_upstream(image, other, "org/tool:v1", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=default.base_url, mirrors={other.host: other.base_url})
    berth, root = start_mirror(start_berth, tmp_path, config)
    code, out, err = berth_cache("warm", "--url", berth.base_url, f"{other.host}/org/tool:v1")
    assert code == 0 and "2 blobs" in out, out + err
    name = other.host.replace(":", "_") + "/org/tool"
    assert [t["digest"] for t in repository(cache_list(config, root), name)["tags"]] == [image["digest"]]
    code, out, err = berth_cache("evict", "--config", str(config), "--root", str(root), f"{name}:v1")
    assert code == 0, err
    code, _, err = berth_cache("evict", "--config", str(config), "--root", str(root), f"{other.host}/org/tool:v1")
    assert code == 2 and "_port" in err, err


HOSTILE_IMAGES = ["", "@", ":", "../../etc/passwd", "/abs", "Team/App:v1", "team/app:bad tag", "team/app:" + "t" * 200,
                  "team/app@sha256:zz", "team/app@", "team//app", "a" * 5000, "team/app\x01:v1", "team/\u00e9:v1",
                  "team/app@@sha256:" + "0" * 64, "team/app:v1@"]


def test_hostile_cache_arguments_fail_with_a_message_and_no_crash(mirrored, tmp_path):
    upstream, berth, root, config, image = mirrored
    pull_through(berth, "team/app:v1", tmp_path / "pull", tmp_path)
    for text in HOSTILE_IMAGES:
        code, out, err = berth_cache("evict", "--config", str(config), "--root", str(root), "--", text)
        assert code == 2 and "IMAGE" in err, (text, code, err)
        code, out, err = berth_cache("warm", "--url", berth.base_url, "--", text)
        assert code == 2 and "IMAGE" in err, (text, code, err)
    for text in ["99999.0.0.1:99999/x:v1", "host:0/x", "ho_st.io/x", "a.b:port/x"]:
        code, _, err = berth_cache("warm", "--url", berth.base_url, text)
        assert code == 2 and "not a registry host" in err, (text, code, err)
    for platform in ["linux", "linux/", "/amd64", "a/b/c/d", "Linux/AMD64", "linux/amd64\n", "x" * 1000 + "/y"]:
        code, _, err = berth_cache("warm", "--url", berth.base_url, "--platform", platform, "team/app:v1")
        assert code == 2 and "--platform" in err, (platform, code, err)
    for url in ["ftp://x", "http://", "http://h:99999", "127.0.0.1:5000"]:
        code, _, err = berth_cache("warm", "--url", url, "team/app:v1")
        assert code == 2 and "--url" in err, (url, code, err)
    for args in [["--repo", "../x"], ["--output", "xml"], ["--next", "-1"]]:
        code, _, err = berth_cache("list", "--config", str(config), "--root", str(root), *args)
        assert code == 2 and err, (args, code, err)
    # Not cached, and a warm against nothing listening: status 1 with the reason.
    code, _, err = berth_cache("evict", "--config", str(config), "--root", str(root), "team/app:v2")
    assert code == 1 and "no such tag" in err, err
    code, out, _ = berth_cache("warm", "--url", "http://127.0.0.1:1", "team/app:v1")
    assert code == 1 and "refused" in out, out
    # A root that is not a mirror's is no cache.
    plain = write_mirror_config(tmp_path, "plain")
    code, _, err = berth_cache("evict", "--config", str(plain), "--root", str(root), "team/app:v1")
    assert code == 2 and "no mirror cache" in err, err
    # Nothing of that harmed the cache.
    assert [t["tag"] for t in repository(cache_list(config, root), "team/app")["tags"]] == ["v1"]
