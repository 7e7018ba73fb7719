"""The mirror's upstreams as containerd names them, and failures that explain themselves.

containerd (`ctr image pull --hosts-dir`, a daemon of the test's own) pulls through Berth from Debian's
docker-registry on loopback ports, an upstream chosen by `?ns=<host>:<port>`; what the upstream was asked,
and by whom, is read from its access log (Berth is `berth-mirror`, containerd going around the mirror is
`containerd/...`). Failures: a miss with the upstream stopped, read in the body, the log and `/readyz`.
Times are printed, never asserted.
"""
import json
import re
import time
import urllib.parse

import pytest
import requests

from containerdutil import containerd  # noqa: F401 (a fixture)
from mirrorutil import (TIMEOUT, HtpasswdReference, bcrypt_entry, build_image, push_to_upstream,
                        repositories_on_disk, settle_log, start_mirror, start_registry_object, tag_link,
                        write_mirror_config)
from regutil import OCI_MANIFEST, assert_error, describe

pytestmark = pytest.mark.berth_only  # the mirror is Berth's; docker-registry is the upstream here

_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/1\.[01]" (?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"')


def _asked(upstream, prefix):
    """[(method, path, agent)] of the upstream's access log under `prefix` (a /v2/<name>/ path)."""
    out = []
    for line in upstream.logs().splitlines():
        m = _ACCESS.search(line)
        if m:
            path = urllib.parse.unquote(urllib.parse.urlsplit(m["target"]).path)
            if path.startswith(prefix):
                out.append((m["method"], path, m["agent"]))
    return out


def _assert_pulled_through_berth(upstream, repo):
    """containerd's pull reached the upstream only through Berth: every request for the repository is
    Berth's, and the blobs were among them."""
    settle_log(upstream)
    asked = _asked(upstream, f"/v2/{repo}/")
    print(f"{upstream.label} was asked for {repo}: {asked}")
    around = [a for a in asked if a[2].startswith("containerd")]
    assert not around, f"containerd went around the mirror to {upstream.label}: {around}"
    assert any(m == "GET" and "/blobs/" in p and agent == "berth-mirror" for m, p, agent in asked), asked


def _ported_and_default(start_registry, start_berth, tmp_path, containerd):
    """Two docker-registry upstreams: `default` (proxy.remoteurl, holding team/app:v1) and `ported` (a
    `mirrors:` entry named by its host and port, holding org/tool:v1); Berth in front of both, and containerd
    told to pull either registry through Berth. Returns (default, app, ported, tool, berth, root)."""
    default = start_registry("reference", label="default")
    ported = start_registry("reference", label="ported")
    tool = build_image(tmp_path / "tool", "v1", nlayers=2)
    app = build_image(tmp_path / "app", "v1", nlayers=2)
    push_to_upstream(tool, ported, "org/tool:v1", tmp_path)
    push_to_upstream(app, default, "team/app:v1", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=default.base_url, mirrors={ported.host: ported.base_url})
    berth, root = start_mirror(start_berth, tmp_path, config)
    for upstream in (default, ported):
        containerd.mirror(upstream.host, upstream.base_url, berth.base_url)
    return default, app, ported, tool, berth, root


def test_containerd_pulls_an_upstream_on_a_port_chosen_by_ns_through_berth(start_registry, start_berth, tmp_path,
                                                                            containerd):
    default, app, ported, tool, berth, root = _ported_and_default(start_registry, start_berth, tmp_path, containerd)
    containerd.pull(f"{ported.host}/org/tool:v1")
    _assert_pulled_through_berth(ported, "org/tool")
    assert f"/v2/org/tool/manifests/{tool['digest']}?ns=127.0.0.1%3A{ported.port}" in berth.logs(), \
        "containerd's manifest request did not reach Berth with ns=<host>:<port>"
    # Cached under <host>_<port>/<name>: the registry grammar has no ':' in a repository name.
    cached = f"127.0.0.1_{ported.port}/org/tool"
    assert tag_link(root, cached, "v1") == tool["digest"]
    assert repositories_on_disk(root) == [cached]
    assert f"{ported.host}/org/tool:v1" in containerd.ctr("image", "ls", "-q").stdout.split()


def test_containerd_pulls_the_default_upstream_named_by_its_own_host_and_port_through_berth(
        start_registry, start_berth, tmp_path, containerd):
    default, app, ported, tool, berth, root = _ported_and_default(start_registry, start_berth, tmp_path, containerd)
    containerd.pull(f"{default.host}/team/app:v1")
    _assert_pulled_through_berth(default, "team/app")
    # The default upstream's repositories are cached under their own names.
    assert tag_link(root, "team/app", "v1") == app["digest"]
    assert repositories_on_disk(root) == ["team/app"]
    assert f"{default.host}/team/app:v1" in containerd.ctr("image", "ls", "-q").stdout.split()


def _manifest(berth, repo, ref, ns=None, method="GET"):
    query = f"?ns={urllib.parse.quote(ns, safe='')}" if ns is not None else ""
    return requests.request(method, f"{berth.base_url}/v2/{repo}/manifests/{ref}{query}",
                            headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)


def test_with_proxy_remoteurl_alone_any_ns_is_served_from_it_and_with_mirrors_an_unknown_ns_is_404(
        start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "src", "v1", nlayers=1)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path)

    alone = write_mirror_config(tmp_path, "alone", remoteurl=upstream.base_url)
    berth, root = start_mirror(start_berth, tmp_path, alone, name="alone")
    # registry:2 ignores ns; so does a mirror of proxy.remoteurl alone, whatever ns names.
    for ns in (upstream.host, "127.0.0.1", "docker.io", "quay.io", None):
        r = _manifest(berth, "team/app", "v1", ns)
        assert r.status_code == 200 and r.content == image["manifest"], (ns, describe(r))
    assert repositories_on_disk(root) == ["team/app"]  # one cache name, whatever ns said

    other = start_registry("reference", label="other")
    both = write_mirror_config(tmp_path, "both", remoteurl=upstream.base_url, mirrors={other.host: other.base_url})
    berth, _ = start_mirror(start_berth, tmp_path, both, name="both")
    for method in ("GET", "HEAD"):
        assert _manifest(berth, "team/app", "v1", upstream.host, method).status_code == 200
        # With a mirrors: map, an ns no upstream answers to is 404, so containerd falls back to the registry.
        assert_error(_manifest(berth, "team/app", "v1", "quay.io", method), (404,), "NAME_UNKNOWN", detail=True)


def test_docker_io_in_mirrors_and_proxy_remoteurl_caches_an_image_once(start_registry, start_berth, tmp_path):
    hub = start_registry("reference", label="hub")
    image = build_image(tmp_path / "src", "1.0", nlayers=1)
    push_to_upstream(image, hub, "library/berthtest:1.0", tmp_path)
    config = write_mirror_config(tmp_path, remoteurl=hub.base_url, mirrors={"docker.io": hub.base_url})
    berth, root = start_mirror(start_berth, tmp_path, config)

    def pull(ns):
        r = _manifest(berth, "library/berthtest", "1.0", ns)
        assert r.status_code == 200 and r.content == image["manifest"], (ns, describe(r))
        r = requests.get(f"{berth.base_url}/v2/library/berthtest/blobs/{next(iter(image['blobs']))}"
                         + (f"?ns={ns}" if ns else ""), timeout=TIMEOUT)
        assert r.status_code == 200, (ns, describe(r))

    pull("docker.io")  # containerd
    pull(None)  # a Docker daemon's registry-mirrors
    assert repositories_on_disk(root) == ["library/berthtest"]
    pull(hub.host)  # ns naming proxy.remoteurl by its host and port
    assert repositories_on_disk(root) == ["library/berthtest"]


def test_a_miss_with_the_upstream_down_names_the_upstream_and_the_reason_and_logs_the_cause(
        start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "src", "v1", nlayers=1)
    push_to_upstream(image, upstream, "library/app:v1", tmp_path)
    upstream.stop()  # by PID: its port now refuses connections
    secret = "s3cr3t-pw"
    address = f"http://ci-bot:{secret}@{upstream.host}"
    config = write_mirror_config(tmp_path, mirrors={"docker.io": address}, timeout="5s")
    berth, _ = start_mirror(start_berth, tmp_path, config)  # starts although its upstream does not answer

    blob = next(iter(image["blobs"]))
    checks = [("GET", "/v2/library/app/manifests/v1"), ("GET", f"/v2/library/app/manifests/{image['digest']}"),
              ("GET", f"/v2/library/app/blobs/{blob}"), ("GET", "/v2/library/app/manifests/v1?ns=docker.io")]
    for method, target in checks:
        r = requests.request(method, berth.url(target), headers={"Accept": OCI_MANIFEST}, timeout=30)
        print(f"{method} {target} -> {r.status_code} {r.text.strip()}")
        errors = assert_error(r, (503,), "UNAVAILABLE", detail=True)
        detail = errors[0]["detail"]
        # The reason, as a client prints it: the upstream by its registry host, and the kind of failure.
        assert "the upstream docker.io could not be reached: connection refused" in detail, describe(r)
        # Never its address, its credentials or a path.
        for hidden in (upstream.host, str(upstream.port), secret, "ci-bot", "http://", "/tmp"):
            assert hidden not in r.text, f"{hidden!r} in the body\n{describe(r)}"
        # The log line of this request has the full cause (the address, never the credentials).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = [line for line in berth.logs().splitlines()
                     if f"mirror: {method} {target}: 503" in line]
            if lines:
                break
            time.sleep(0.05)
        assert lines, f"no log line for {method} {target}\n{berth.logs()[-4000:]}"
        assert "connection refused" in lines[-1] and f"{upstream.host}" in lines[-1], lines[-1]
    assert secret not in berth.logs()


def _readiness(berth):
    r = requests.get(berth.url("/readyz"), timeout=TIMEOUT)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    return r.status_code, r.json()


def _wait_readiness(berth, condition, wait=60):
    deadline = time.monotonic() + wait
    status, body = _readiness(berth)
    while not condition(status, body) and time.monotonic() < deadline:
        time.sleep(0.2)
        status, body = _readiness(berth)
    return status, body


def test_readyz_says_which_upstreams_answer_and_when_each_last_failed(start_registry, start_berth, tmp_path):
    up = start_registry("reference", label="up")
    down = start_registry("reference", label="down")
    down.stop()  # by PID
    config = write_mirror_config(tmp_path, remoteurl=up.base_url, mirrors={down.host: down.base_url})
    berth, _ = start_mirror(start_berth, tmp_path, config)  # starts although one upstream does not answer

    def by_name(body):
        return {u["name"]: u for u in body["upstreams"]}

    status, body = _wait_readiness(berth, lambda s, b: all(u["state"] != "unchecked" for u in b["upstreams"]))
    print(json.dumps(body))
    assert status == 503 and body["status"] == "unready", body
    named = by_name(body)
    assert sorted(named) == sorted([up.host, down.host]), body
    assert named[up.host]["state"] == "answering" and named[up.host]["lastFailure"] is None, body
    assert named[down.host]["state"] == "failing" and named[down.host]["reason"] == "connection refused", body
    assert named[down.host]["lastFailure"]["reason"] == "connection refused", body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", named[down.host]["lastFailure"]["at"]), body
    assert f":{down.port}" not in json.dumps(body).replace(f'"{down.host}"', ""), "an address beyond the name"
    # /healthz stays about this node's storage.
    r = requests.get(berth.url("/healthz"), timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "ok", describe(r)
    # The start named each upstream and said which one does not answer.
    log = berth.logs()
    assert f"mirror: upstream {up.host} at {up.base_url}/ (default)" in log, log[-3000:]
    assert f"mirror: upstream {down.host} at {down.base_url}/" in log, log[-3000:]
    assert re.search(rf"upstream {re.escape(down.host)} .*failing: connection to 127\.0\.0\.1:{down.port} refused", log), log[-3000:]

    down.start()  # same port: the next check finds it
    status, body = _wait_readiness(berth, lambda s, b: s == 200)
    print(json.dumps(body))
    assert status == 200 and body["status"] == "ready", body
    named = by_name(body)
    assert named[down.host]["state"] == "answering", body
    assert named[down.host]["lastFailure"]["reason"] == "connection refused", "when it last failed is kept"


def test_the_start_check_sends_the_credentials_and_a_refusal_of_them_is_unready(request, start_berth, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(bcrypt_entry("alice", "secret") + "\n")
    upstream = start_registry_object(request, HtpasswdReference(tmp_path / "upstream", htpasswd, realm="berth-tests"))
    good = write_mirror_config(tmp_path, "good", remoteurl=upstream.base_url, username="alice", password="secret")
    berth, _ = start_mirror(start_berth, tmp_path, good, name="good")
    status, body = _wait_readiness(berth, lambda s, b: s == 200)
    assert status == 200 and body["upstreams"][0]["state"] == "answering", body

    bad = write_mirror_config(tmp_path, "bad", remoteurl=upstream.base_url, username="alice", password="wrong")
    berth, _ = start_mirror(start_berth, tmp_path, bad, name="bad")
    status, body = _wait_readiness(berth, lambda s, b: b["upstreams"][0]["state"] != "unchecked")
    print(json.dumps(body))
    assert status == 503 and body["upstreams"][0]["reason"] == "refused our credentials (401)", body
    assert "wrong" not in json.dumps(body) and "wrong" not in berth.logs()


def test_a_plain_registry_is_ready(start_berth):
    berth = start_berth()
    r = requests.get(berth.url("/readyz"), timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"status": "ready"}, describe(r)
