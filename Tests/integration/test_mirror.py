"""Pull-through mirror (`proxy.remoteurl`, `mirrors:`): Berth in front of Debian's docker-registry.

Images are pushed to the upstream with skopeo and pulled through Berth with skopeo (or with the exact
requests a Docker daemon or containerd sends to a mirror), then compared byte for byte with what was pushed.
What Berth asked the upstream is read from the upstream's access log. Times are printed, never asserted.
"""
import json
import os
import time

import pytest
import requests

from imagebuild import Layout, copy_from_registry, copy_to_registry
from mirrorutil import (CONTAINERD_ACCEPT, DOCKER_DAEMON_ACCEPT, TIMEOUT, assert_same_image,
                        build_image, count_requests, metric, metric_samples, pull_through, push_to_upstream,
                        repositories_on_disk, settle_log, settled_count, start_mirror, tag_link, upstream_requests,
                        wait_for_metrics, write_mirror_config)
from regutil import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, assert_error, describe, digest_of, raw_request, wait_for

pytestmark = pytest.mark.berth_only  # the mirror is Berth's; docker-registry is the upstream here


def _manifest(base, repo, ref, accept=OCI_MANIFEST, method="GET", query=""):
    return requests.request(method, f"{base}/v2/{repo}/manifests/{ref}{query}", headers={"Accept": accept},
                            timeout=TIMEOUT)


def _mirror_of_one_image(start_registry, start_berth, tmp_path, **build):
    """docker-registry holding team/app:v1 (build_image(**build)) and a mirror Berth in front of it.
    Returns (upstream, image, berth, root)."""
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "src", "v1", **build)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    berth, root = start_mirror(start_berth, tmp_path, config)
    return upstream, image, berth, root


# --- 1. plain HTTP upstream: byte-identical, each blob fetched once ----------------------------------------
def test_pull_through_is_byte_identical_and_fetches_each_blob_from_the_upstream_once(start_registry, start_berth,
                                                                                      tmp_path):
    upstream, image, berth, root = _mirror_of_one_image(start_registry, start_berth, tmp_path, nlayers=3)

    pulled = pull_through(berth, "team/app:v1", tmp_path / "first", tmp_path)
    assert_same_image(pulled, image)
    # The manifest Berth serves is the upstream's, byte for byte, with the same digest and type.
    ours = _manifest(berth.base_url, "team/app", "v1")
    theirs = _manifest(upstream.base_url, "team/app", "v1")
    assert ours.status_code == 200 and theirs.status_code == 200, (describe(ours), describe(theirs))
    assert ours.content == theirs.content == image["manifest"]
    assert ours.headers["Docker-Content-Digest"] == theirs.headers["Docker-Content-Digest"] == image["digest"]
    assert ours.headers["Content-Type"] == theirs.headers["Content-Type"] == OCI_MANIFEST
    for d, data in image["blobs"].items():
        r = requests.get(f"{berth.base_url}/v2/team/app/blobs/{d}", timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == data, describe(r)
        assert r.headers.get("Docker-Content-Digest") == d, describe(r)

    # Cached in registry:2's layout.
    assert tag_link(root, "team/app", "v1") == image["digest"]

    settle_log(upstream)
    first = {d: count_requests(upstream, "GET", f"/v2/team/app/blobs/{d}") for d in image["blobs"]}
    print(f"upstream blob GETs after the first pull: {first}")
    assert all(n == 1 for n in first.values()), f"blobs fetched from the upstream more than once: {first}"
    before = [r for r in upstream_requests(upstream) if r[1].startswith("/v2/team/app/")]

    pulled = pull_through(berth, "team/app:v1", tmp_path / "second", tmp_path)
    assert_same_image(pulled, image)
    settle_log(upstream)
    second = {d: count_requests(upstream, "GET", f"/v2/team/app/blobs/{d}") for d in image["blobs"]}
    assert second == first, f"the second pull fetched blobs from the upstream again: {first} -> {second}"
    after = [r for r in upstream_requests(upstream) if r[1].startswith("/v2/team/app/")]
    # Within proxy.ttl (5m by default) the tag is served from the cache too: no upstream request at all.
    assert after == before, f"the second pull asked the upstream: {after[len(before):]}"


def test_what_the_upstream_does_not_have_is_404(start_registry, start_berth, tmp_path):
    upstream, image, berth, root = _mirror_of_one_image(start_registry, start_berth, tmp_path, nlayers=1)
    base = berth.base_url

    for method in ("GET", "HEAD"):
        assert_error(_manifest(base, "team/app", "no-such-tag", method=method), (404,), "MANIFEST_UNKNOWN", detail=True)
        # docker-registry says NAME_UNKNOWN for a repository it does not have; the mirror, MANIFEST_UNKNOWN.
        assert_error(_manifest(base, "team/nothing", "v1", method=method), (404,), "MANIFEST_UNKNOWN", detail=True)
        missing = digest_of(b"no registry has this " + os.urandom(8))
        assert_error(_manifest(base, "team/app", missing, method=method), (404,), "MANIFEST_UNKNOWN", detail=True)
        r = requests.request(method, f"{base}/v2/team/app/blobs/{missing}", timeout=TIMEOUT)
        assert_error(r, (404,), "BLOB_UNKNOWN", detail=True)
    # What the upstream has is there all the same.
    assert _manifest(base, "team/app", "v1").content == image["manifest"]
    assert tag_link(root, "team/app", "no-such-tag") is None


# --- 3. upstream stopped -------------------------------------------------------------------------------------
def test_with_the_upstream_stopped_cached_tags_still_pull_and_an_uncached_one_fails_fast(start_registry,
                                                                                         start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    images = {tag: build_image(tmp_path / f"src-{tag}", tag, nlayers=2) for tag in ("v1", "v2", "v3")}
    for tag, image in images.items():
        push_to_upstream(image, upstream, f"team/app:{tag}", tmp_path)
    # A short TTL: by the time the upstream is gone the cached tags are due for re-validation, which fails.
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, ttl="1s", timeout="5s")
    berth, _ = start_mirror(start_berth, tmp_path, config)
    base = berth.base_url

    for tag in ("v1", "v2"):  # warm: v3 is never asked for
        assert_same_image(pull_through(berth, f"team/app:{tag}", tmp_path / f"warm-{tag}", tmp_path), images[tag])

    upstream.stop()  # by PID
    assert not upstream.running
    time.sleep(1.5)  # past the TTL

    for tag in ("v1", "v2"):
        image = images[tag]
        assert_same_image(pull_through(berth, f"team/app:{tag}", tmp_path / f"stale-{tag}", tmp_path), image)
        for method in ("GET", "HEAD"):
            for ref in (tag, image["digest"]):
                r = _manifest(base, "team/app", ref, method=method)
                assert r.status_code == 200, describe(r)
                assert r.headers.get("Docker-Content-Digest") == image["digest"], describe(r)
                if method == "GET":
                    assert r.content == image["manifest"]
        for d, data in image["blobs"].items():
            r = requests.get(f"{base}/v2/team/app/blobs/{d}", timeout=TIMEOUT)
            assert r.status_code == 200 and r.content == data, describe(r)

    uncached = images["v3"]
    checks = [("GET", f"/v2/team/app/manifests/v3"), ("HEAD", f"/v2/team/app/manifests/v3"),
              ("GET", f"/v2/team/app/manifests/{uncached['digest']}"),
              ("GET", f"/v2/team/app/blobs/{next(iter(uncached['blobs']))}"),
              ("HEAD", f"/v2/team/app/blobs/{next(iter(uncached['blobs']))}"),
              ("GET", "/v2/team/other/manifests/v1")]
    for method, path in checks:
        started = time.monotonic()
        r = requests.request(method, base + path, headers={"Accept": OCI_MANIFEST}, timeout=30)
        print(f"{method} {path} with the upstream stopped -> {r.status_code} in {time.monotonic() - started:.2f}s: "
              f"{r.text[:300]!r}")
        assert_error(r, (502, 503), detail=True)
    started = time.monotonic()
    with pytest.raises(AssertionError):
        copy_from_registry(berth, "team/app:v3", f"oci:{tmp_path / 'uncached'}:v3", tmp_path=tmp_path)
    print(f"skopeo pull of the uncached tag failed after {time.monotonic() - started:.2f}s")
    # Berth itself carries on.
    assert requests.get(berth.url("/v2/"), timeout=TIMEOUT).status_code == 200


# --- 4. tag TTL and re-validation ------------------------------------------------------------------------------
def test_a_tag_moved_upstream_is_served_from_the_cache_until_the_ttl_then_revalidated_with_head(
        start_registry, start_berth, tmp_path):
    ttl = 3.0
    upstream = start_registry("reference", label="upstream")
    old = build_image(tmp_path / "old", "latest", nlayers=1)
    new = build_image(tmp_path / "new", "latest", nlayers=1)
    push_to_upstream(old, upstream, "team/app:latest", tmp_path)
    push_to_upstream(new, upstream, "team/app:next", tmp_path)  # its blobs and manifest are upstream already
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, ttl="3s")
    berth, root = start_mirror(start_berth, tmp_path, config)
    base = berth.base_url
    tag_path = "/v2/team/app/manifests/latest"

    def counts():
        return (count_requests(upstream, "GET", tag_path), count_requests(upstream, "HEAD", tag_path))

    fetched = time.monotonic()
    r = _manifest(base, "team/app", "latest")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == old["digest"], describe(r)
    settled_count(upstream, "GET", tag_path)
    gets0, heads0 = counts()
    assert gets0 >= 1

    # Past the TTL with the tag unchanged: re-validated with a HEAD, not fetched again.
    time.sleep(max(0.0, ttl + 0.5 - (time.monotonic() - fetched)))
    r = _manifest(base, "team/app", "latest")
    revalidated = time.monotonic()
    assert r.status_code == 200 and r.content == old["manifest"], describe(r)
    wait_for(lambda: counts()[1] > heads0, "no HEAD to the upstream once the TTL had passed", timeout=10)  # it logs after answering
    gets1, heads1 = counts()
    print(f"after the TTL, tag unchanged: upstream GETs {gets0} -> {gets1}, HEADs {heads0} -> {heads1}")
    assert heads1 > heads0, "no HEAD to the upstream once the TTL had passed"
    assert gets1 == gets0, "the manifest was fetched again although its digest had not moved"

    # Move the tag upstream (one PUT of the other image's manifest): within the (restarted) TTL,
    # Berth still serves the old digest and asks the upstream nothing.
    r = requests.put(f"{upstream.base_url}{tag_path}", data=new["manifest"],
                     headers={"Content-Type": OCI_MANIFEST}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    assert _manifest(upstream.base_url, "team/app", "latest").content == new["manifest"]
    r = _manifest(base, "team/app", "latest")
    elapsed = time.monotonic() - revalidated
    print(f"checked {elapsed:.2f}s after the re-validation (TTL {ttl}s): {r.headers.get('Docker-Content-Digest')}")
    assert r.status_code == 200, describe(r)
    assert r.headers["Docker-Content-Digest"] == old["digest"], \
        f"the moved tag was seen {elapsed:.2f}s after its re-validation, within the {ttl}s TTL"
    assert r.content == old["manifest"]
    time.sleep(0.5)  # a wait for something not to happen: a request the upstream would log
    assert counts() == (gets1, heads1), "the upstream was asked about the tag within the TTL"

    # After the TTL the new digest is served.
    deadline = time.monotonic() + 30
    while True:
        r = _manifest(base, "team/app", "latest")
        assert r.status_code == 200, describe(r)
        if r.headers["Docker-Content-Digest"] != old["digest"] or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    print(f"new digest served {time.monotonic() - revalidated:.2f}s after the last re-validation")
    assert r.headers["Docker-Content-Digest"] == new["digest"], "the moved tag was never seen"
    assert r.content == new["manifest"]
    wait_for(lambda: counts()[0] > gets1 and counts()[1] > heads1, "a HEAD and a GET for the moved tag", timeout=10)
    gets2, heads2 = counts()
    print(f"after the move: upstream GETs {gets1} -> {gets2}, HEADs {heads1} -> {heads2}")
    assert heads2 > heads1, "the upstream got no HEAD for the tag's re-validation"
    assert gets2 > gets1, "the new manifest was not fetched"
    assert tag_link(root, "team/app", "latest") == new["digest"]
    # And the new image pulls whole.
    assert_same_image(pull_through(berth, "team/app:latest", tmp_path / "pulled", tmp_path), new)


# --- 5. what a Docker daemon and containerd send to a mirror ----------------------------------------------------
def _raw_get(hostport, method, target, headers):
    """One request as bytes, every header line as given (Accept repeated, as Go's net/http sends it)."""
    head = f"{method} {target} HTTP/1.1\r\nHost: {hostport}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "Connection: close\r\n\r\n"
    return raw_request(hostport, head.encode("latin-1"), method=method)


def _multi_arch(tmp_path, tag):
    layout = Layout(tmp_path / "multi")
    images = [layout.add_image(nlayers=2, arch=arch) for arch in ("amd64", "arm64")]
    index = layout.add_index(images)
    layout.tag(tag, OCI_INDEX, index["manifest"])
    return layout, index


def _upstream_get(upstream, repo, kind, ref, accept=None):
    headers = {"Accept": accept} if accept else {}
    r = requests.get(f"{upstream.base_url}/v2/{repo}/{kind}/{ref}", headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    return r


DOCKER_UA = ("docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0 os/linux arch/amd64 "
             "UpstreamClient(Docker-Client/24.0.7 \\(linux\\))")


def test_docker_daemon_registry_mirrors_request_sequence(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    layout, _ = _multi_arch(tmp_path, "3.19")
    # A Docker manifest list with schema2 manifests, as Docker Hub serves its official images.
    copy_to_registry(f"oci:{layout.path}:3.19", upstream, "library/berthtest:3.19", "--all", "--format", "v2s2",
                     tmp_path=tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    berth, root = start_mirror(start_berth, tmp_path, config)
    host = berth.host
    repo = "library/berthtest"

    for accepts_as_one_header in (False, True):  # cold, then warm
        accept = ([("Accept", ", ".join(DOCKER_DAEMON_ACCEPT))] if accepts_as_one_header
                  else [("Accept", a) for a in DOCKER_DAEMON_ACCEPT])
        common = [("User-Agent", DOCKER_UA), ("Accept-Encoding", "gzip")]

        r = _raw_get(host, "GET", "/v2/", common)
        assert r.status == 200, r
        assert r.header("Docker-Distribution-Api-Version") == "registry/2.0", r

        r = _raw_get(host, "GET", f"/v2/{repo}/manifests/3.19", common + accept)
        theirs = _upstream_get(upstream, repo, "manifests", "3.19", ", ".join(DOCKER_DAEMON_ACCEPT))
        assert r.status == 200, r
        assert r.body == theirs.content
        assert r.header("Content-Type") == theirs.headers["Content-Type"] == DOCKER_LIST
        assert r.header("Docker-Content-Digest") == theirs.headers["Docker-Content-Digest"] == digest_of(r.body)
        list_digest = digest_of(r.body)
        manifest_list = json.loads(r.body)
        platform = next(m for m in manifest_list["manifests"] if m["platform"]["architecture"] == "amd64")

        r = _raw_get(host, "GET", f"/v2/{repo}/manifests/{platform['digest']}", common + accept)
        theirs = _upstream_get(upstream, repo, "manifests", platform["digest"], ", ".join(DOCKER_DAEMON_ACCEPT))
        assert r.status == 200, r
        assert r.body == theirs.content and digest_of(r.body) == platform["digest"]
        assert r.header("Content-Type") == DOCKER_MANIFEST
        assert r.header("Docker-Content-Digest") == platform["digest"]
        image = json.loads(r.body)

        for desc in [image["config"]] + image["layers"]:
            r = _raw_get(host, "GET", f"/v2/{repo}/blobs/{desc['digest']}", common)
            assert r.status == 200, r
            assert len(r.body) == desc["size"] and digest_of(r.body) == desc["digest"], r
            assert r.body == _upstream_get(upstream, repo, "blobs", desc["digest"]).content

    assert tag_link(root, repo, "3.19") == list_digest
    assert repositories_on_disk(root) == [repo]
    # The second round came from the cache: each blob was fetched from the upstream once.
    settle_log(upstream)
    for desc in [image["config"]] + image["layers"]:
        assert count_requests(upstream, "GET", f"/v2/{repo}/blobs/{desc['digest']}") == 1, desc


def _containerd_pull(hostport, repo, tag, ns, upstream):
    """containerd's requests to a hosts.toml mirror: HEAD the tag, GET by digest, the platform manifest by
    digest, then the config and layers, each with ?ns=<registry host>. Each answer is compared with the
    upstream's. Returns the tag's digest."""
    q = f"?ns={ns}"
    ua = [("User-Agent", "containerd/1.7.13")]
    r = _raw_get(hostport, "HEAD", f"/v2/{repo}/manifests/{tag}{q}", ua + [("Accept", CONTAINERD_ACCEPT)])
    assert r.status == 200, r
    digest = r.header("Docker-Content-Digest")
    theirs = _upstream_get(upstream, repo, "manifests", tag, CONTAINERD_ACCEPT)
    assert digest == theirs.headers["Docker-Content-Digest"], r
    assert int(r.header("Content-Length")) == len(theirs.content), r
    assert r.header("Content-Type") == theirs.headers["Content-Type"], r

    r = _raw_get(hostport, "GET", f"/v2/{repo}/manifests/{digest}{q}", ua + [("Accept", CONTAINERD_ACCEPT)])
    assert r.status == 200 and r.body == theirs.content and digest_of(r.body) == digest, r
    top = json.loads(r.body)
    if top.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
        entry = next(m for m in top["manifests"] if m["platform"]["architecture"] == "amd64")
        r = _raw_get(hostport, "GET", f"/v2/{repo}/manifests/{entry['digest']}{q}",
                     ua + [("Accept", f"{entry['mediaType']}, */*")])
        assert r.status == 200 and digest_of(r.body) == entry["digest"], r
        assert r.body == _upstream_get(upstream, repo, "manifests", entry["digest"], entry["mediaType"]).content
        image = json.loads(r.body)
    else:
        image = top
    for desc in [image["config"]] + image["layers"]:
        r = _raw_get(hostport, "GET", f"/v2/{repo}/blobs/{desc['digest']}{q}",
                     ua + [("Accept", f"{desc['mediaType']}, */*")])
        assert r.status == 200, r
        assert len(r.body) == desc["size"] and digest_of(r.body) == desc["digest"], r
    return digest


def test_containerd_mirror_protocol_chooses_the_upstream_by_ns(start_registry, start_berth, tmp_path):
    hub = start_registry("reference", label="hub")
    ghcr = start_registry("reference", label="ghcr")
    layout, index = _multi_arch(tmp_path, "1.0")
    copy_to_registry(f"oci:{layout.path}:1.0", hub, "library/berthtest:1.0", "--all", tmp_path=tmp_path)
    app = build_image(tmp_path / "app", "v1", nlayers=2)
    push_to_upstream(app, ghcr, "org/app:v1", tmp_path)

    config = write_mirror_config(tmp_path, mirrors={"docker.io": hub.base_url, "ghcr.io": ghcr.base_url})
    berth, root = start_mirror(start_berth, tmp_path, config)
    host = berth.host

    for _ in range(2):  # cold, then warm
        digest = _containerd_pull(host, "library/berthtest", "1.0", "docker.io", hub)
        assert digest == index["digest"]  # the OCI index as pushed
        assert _containerd_pull(host, "org/app", "v1", "ghcr.io", ghcr) == app["digest"]

    # Stored under <name> for the default upstream (docker.io, without proxy.remoteurl), <host>/<name> otherwise.
    assert tag_link(root, "library/berthtest", "1.0") == digest
    assert tag_link(root, "ghcr.io/org/app", "v1") == app["digest"]
    assert tag_link(root, "org/app", "v1") is None
    assert repositories_on_disk(root) == ["ghcr.io/org/app", "library/berthtest"]
    # Each upstream was asked only for its own repositories.
    settle_log(hub)
    settle_log(ghcr)
    assert not [r for r in upstream_requests(hub) if r[1].startswith("/v2/org/")], upstream_requests(hub)
    assert not [r for r in upstream_requests(ghcr) if r[1].startswith("/v2/library/")], upstream_requests(ghcr)
    assert count_requests(ghcr, "GET", f"/v2/org/app/blobs/{digest_of(app['layers'][0])}") == 1

    # Without ns: the default upstream (docker.io's entry).
    r = _manifest(berth.base_url, "library/berthtest", "1.0", accept=OCI_INDEX)
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest, describe(r)
    r = _manifest(berth.base_url, "org/app", "v1")
    assert_error(r, (404,), "MANIFEST_UNKNOWN", detail=True)  # the default upstream does not have it
    # An ns that no mirror entry names.
    for method in ("GET", "HEAD"):
        r = _manifest(berth.base_url, "org/app", "v1", method=method, query="?ns=quay.io")
        assert_error(r, (404,), "NAME_UNKNOWN", detail=True)
    r = requests.get(f"{berth.base_url}/v2/org/app/blobs/{digest_of(app['layers'][0])}?ns=quay.io", timeout=TIMEOUT)
    assert_error(r, (404,), "NAME_UNKNOWN", detail=True)


# --- 7. writes ------------------------------------------------------------------------------------------------
def test_pushes_and_deletes_answer_405_unsupported(start_registry, start_berth, tmp_path):
    upstream, image, berth, root = _mirror_of_one_image(start_registry, start_berth, tmp_path, nlayers=1)
    base = berth.base_url
    assert _manifest(base, "team/app", "v1").content == image["manifest"]  # cached
    layer = digest_of(image["layers"][0])
    blob = os.urandom(1000)

    writes = [
        ("POST", f"/v2/team/app/blobs/uploads/", b"", {}),
        ("POST", f"/v2/team/app/blobs/uploads/?digest={digest_of(blob)}", blob,
         {"Content-Type": "application/octet-stream"}),
        ("POST", f"/v2/team/app/blobs/uploads/?mount={layer}&from=team/app", b"", {}),
        ("PATCH", "/v2/team/app/blobs/uploads/0f0e0d0c-0b0a-4909-8807-060504030201", blob,
         {"Content-Type": "application/octet-stream", "Content-Range": f"0-{len(blob) - 1}"}),
        ("PUT", f"/v2/team/app/blobs/uploads/0f0e0d0c-0b0a-4909-8807-060504030201?digest={digest_of(blob)}", blob,
         {"Content-Type": "application/octet-stream"}),
        ("PUT", "/v2/team/app/manifests/v2", image["manifest"], {"Content-Type": OCI_MANIFEST}),
        ("PUT", f"/v2/team/app/manifests/{image['digest']}", image["manifest"], {"Content-Type": OCI_MANIFEST}),
        ("DELETE", f"/v2/team/app/manifests/{image['digest']}", b"", {}),
        ("DELETE", "/v2/team/app/manifests/v1", b"", {}),
        ("DELETE", f"/v2/team/app/blobs/{layer}", b"", {}),
    ]
    for method, path, body, headers in writes:
        r = requests.request(method, base + path, data=body, headers=headers, timeout=TIMEOUT)
        errors = assert_error(r, (405,), "UNSUPPORTED", detail=True)
        messages = " ".join(f"{e.get('message')} {e.get('detail')}" for e in errors)
        assert "mirror" in messages.lower(), f"{method} {path}: the error does not say this is a mirror\n{describe(r)}"

    src = build_image(tmp_path / "push", "v9", nlayers=1)
    with pytest.raises(AssertionError) as failure:
        copy_to_registry(f"oci:{src['layout'].path}:v9", berth, "team/app:v9", tmp_path=tmp_path)
    print(f"skopeo push to the mirror failed as it should: {str(failure.value)[-400:]}")

    # Nothing reached the upstream but reads, and the cache is intact.
    settle_log(upstream)
    writes_upstream = [r for r in upstream_requests(upstream) if r[0] not in ("GET", "HEAD")]
    assert not writes_upstream, writes_upstream
    assert _manifest(upstream.base_url, "team/app", "v9").status_code == 404
    assert tag_link(root, "team/app", "v1") == image["digest"]
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)


# --- 9. metrics ------------------------------------------------------------------------------------------------
def test_metrics_count_cache_misses_hits_and_upstream_bytes(start_registry, start_berth, tmp_path):
    upstream, image, berth, _ = _mirror_of_one_image(start_registry, start_berth, tmp_path, nlayers=3,
                                                     layer_size=300_000)
    nblobs = len(image["blobs"])

    names = ["berth_mirror_cache_hits_total", "berth_mirror_cache_misses_total", "berth_mirror_upstream_bytes_total",
             "berth_mirror_evictions_total"]
    start = metric_samples(berth)

    def value(samples, name, **labels):
        return metric(samples, name, **labels) or 0

    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "cold", tmp_path), image)
    cold = wait_for_metrics(berth, lambda s: value(s, "berth_mirror_cache_misses_total", kind="blob") >= nblobs
                            and value(s, "berth_mirror_cache_misses_total", kind="manifest") >= 1
                            and value(s, "berth_mirror_upstream_bytes_total") >= image["size"])
    for name in names:
        present = [k for k in cold if k[0] == name]
        assert present, f"{name} is not in /metrics"
    figures = {(n, l): v for (n, l), v in cold.items() if n.startswith("berth_mirror_")}
    print(f"after the cold pull: {figures}")
    assert metric(cold, "berth_mirror_cache_misses_total", kind="blob") is not None
    assert metric(cold, "berth_mirror_cache_misses_total", kind="manifest") is not None
    assert value(cold, "berth_mirror_cache_misses_total", kind="blob") - \
        value(start, "berth_mirror_cache_misses_total", kind="blob") >= nblobs
    assert value(cold, "berth_mirror_cache_misses_total", kind="manifest") - \
        value(start, "berth_mirror_cache_misses_total", kind="manifest") >= 1
    assert value(cold, "berth_mirror_upstream_bytes_total") - value(start, "berth_mirror_upstream_bytes_total") \
        >= image["size"]
    assert value(cold, "berth_mirror_evictions_total") == 0  # no maxsize

    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "warm", tmp_path), image)
    warm = wait_for_metrics(berth, lambda s: value(s, "berth_mirror_cache_hits_total", kind="blob")
                            - value(cold, "berth_mirror_cache_hits_total", kind="blob") >= nblobs
                            and value(s, "berth_mirror_cache_hits_total", kind="manifest")
                            > value(cold, "berth_mirror_cache_hits_total", kind="manifest"))
    print(f"after the warm pull: { {(n, l): v for (n, l), v in warm.items() if n.startswith('berth_mirror_')} }")
    assert value(warm, "berth_mirror_cache_hits_total", kind="blob") - \
        value(cold, "berth_mirror_cache_hits_total", kind="blob") >= nblobs
    assert value(warm, "berth_mirror_cache_hits_total", kind="manifest") > \
        value(cold, "berth_mirror_cache_hits_total", kind="manifest")
    # Nothing was missing the second time, and nothing more came from the upstream.
    assert value(warm, "berth_mirror_cache_misses_total", kind="blob") == \
        value(cold, "berth_mirror_cache_misses_total", kind="blob")
    assert value(warm, "berth_mirror_upstream_bytes_total") == value(cold, "berth_mirror_upstream_bytes_total")
