"""Error responses, hostile names and malformed HTTP."""

import json
import os
import shutil
import ssl

import pytest
import requests

from regutil import (OCI_MANIFEST, TIMEOUT, assert_error, connect, describe, digest_of, location, push_blob,
                     push_image, push_manifest, random_bytes, raw_request, read_response, simple_request,
                     start_upload, with_query)


def assert_alive(registry):
    r = requests.get(f"{registry.base_url}/v2/", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)


def test_base_endpoint_is_200_with_api_version_header_and_empty_json(registry):
    r = requests.get(f"{registry.base_url}/v2/", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
    assert r.json() == {}
    h = requests.head(f"{registry.base_url}/v2/", timeout=TIMEOUT)
    assert h.status_code == 200, describe(h)
    assert h.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"


def test_error_responses_have_json_errors_shape(registry):
    base = registry.base_url
    img = push_image(base, "team/app", "v1")
    assert img["response"].status_code == 201
    upload = location(start_upload(base, "team/app"))
    assert requests.delete(upload, timeout=TIMEOUT).status_code == 204
    missing_layer = push_image(base, "team/app", "v2", push_layers=False)["response"]
    cases = [
        (requests.get(f"{base}/v2/team/app/blobs/{digest_of(b'x')}", timeout=TIMEOUT), 404, "BLOB_UNKNOWN"),
        (requests.get(f"{base}/v2/team/app/manifests/nope", timeout=TIMEOUT), 404, "MANIFEST_UNKNOWN"),
        (requests.get(f"{base}/v2/team/nope/tags/list", timeout=TIMEOUT), 404, "NAME_UNKNOWN"),
        (requests.get(upload, timeout=TIMEOUT), 404, "BLOB_UPLOAD_UNKNOWN"),
        (requests.put(with_query(location(start_upload(base, "team/app")), digest=digest_of(b"a")), data=b"b",
                      timeout=TIMEOUT), 400, "DIGEST_INVALID"),
        (push_manifest(base, "team/app", "v3", b"[not json", OCI_MANIFEST), 400, "MANIFEST_INVALID"),
        (missing_layer, 400, "MANIFEST_BLOB_UNKNOWN"),
        (requests.get(f"{base}/v2/team/app/blobs/sha256:xyz", timeout=TIMEOUT), 400, "DIGEST_INVALID"),
    ]
    for resp, status, code in cases:
        assert_error(resp, status, code)
        assert "json" in resp.headers.get("Content-Type", ""), describe(resp)
        for e in resp.json()["errors"]:
            assert e["message"], describe(resp)
    assert_alive(registry)


def test_invalid_digest_on_blob_get_is_400_digest_invalid(registry):
    for d in ("sha256:xyz", "sha256:abcd", "md5:d41d8cd98f00b204e9800998ecf8427e"):
        r = requests.get(f"{registry.base_url}/v2/team/app/blobs/{d}", timeout=TIMEOUT)
        assert_error(r, 400, "DIGEST_INVALID")
    assert_alive(registry)


def test_invalid_digest_on_upload_put_is_400_digest_invalid(registry):
    url = location(start_upload(registry.base_url, "team/app"))
    r = requests.put(with_query(url, digest="sha256:xyz"), data=b"abc", timeout=TIMEOUT)
    assert_error(r, 400, "DIGEST_INVALID")
    assert_alive(registry)


@pytest.mark.berth_only  # the reference answers 500 UNKNOWN (it looks up a tag named "sha256:xyz")
def test_invalid_digest_as_manifest_reference_is_4xx_not_500(registry):
    for ref in ("sha256:xyz", "sha256:abcd"):
        r = requests.get(f"{registry.base_url}/v2/team/app/manifests/{ref}", timeout=TIMEOUT)
        assert_error(r, (400, 404), "DIGEST_INVALID", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
                     "TAG_INVALID")
    assert_alive(registry)


# --- repository names ---------------------------------------------------------------------
BAD_NAMES = ["a//b", "../etc", "a/../etc", "%2e%2e/etc", "a/%2e%2e/etc", "a/_b", "-a/b", "a/b-", "a/b/..",
             "a/./b", "a%2fb%2f..%2f..%2fetc"]
STRICT_BAD_NAMES = ["UPPER/case", "Bad"] + BAD_NAMES


def hostile_requests(name):
    body = b'{"schemaVersion":2}'
    return [
        ("GET", f"/v2/{name}/manifests/latest", b""),
        ("HEAD", f"/v2/{name}/manifests/latest", b""),
        ("PUT", f"/v2/{name}/manifests/latest", body),
        ("DELETE", f"/v2/{name}/manifests/latest", b""),
        ("GET", f"/v2/{name}/tags/list", b""),
        ("GET", f"/v2/{name}/blobs/{digest_of(body)}", b""),
        ("POST", f"/v2/{name}/blobs/uploads/", b""),
        ("POST", f"/v2/{name}/blobs/uploads/?digest={digest_of(body)}", body),
        ("POST", f"/v2/{name}/blobs/uploads/?mount={digest_of(body)}&from=etc", b""),
    ]


def snapshot(top, skip=()):
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if any(p == s or p.startswith(s + os.sep) for s in skip):
                continue
            out[p] = os.path.getsize(p) if os.path.isfile(p) else None
    return out


@pytest.fixture
def planted(registry):
    """A real repository `etc`, plus copies of it where a name escaping `repositories/` would land,
    so that a traversal would find a manifest (200) instead of a 404."""
    img = push_image(registry.base_url, "etc", "latest")
    assert img["response"].status_code == 201
    v2 = os.path.join(registry.root, "docker", "registry", "v2")
    src = os.path.join(v2, "repositories", "etc")
    assert os.path.isdir(src), f"unexpected data layout under {registry.root}"
    for dest in (os.path.join(v2, "etc"), os.path.join(registry.root, "docker", "registry", "etc"),
                 os.path.join(registry.root, "etc"), os.path.join(os.path.dirname(registry.root), "etc")):
        shutil.copytree(src, dest)
    return img


def send_hostile(registry, name, allowed):
    results = []
    for method, path, body in hostile_requests(name):
        headers = {"Content-Type": OCI_MANIFEST} if "manifests" in path and method == "PUT" else {}
        r = simple_request(registry.host, method, path, headers=headers, body=body)
        results.append((method, path, r))
        assert r.status in allowed, f"{method} {path} -> {r}"
        assert not (200 <= r.status < 300), f"{method} {path} -> {r}"
        if r.status == 400 and method != "HEAD":
            try:
                codes = [e["code"] for e in json.loads(r.body)["errors"]]
            except (ValueError, KeyError, TypeError):
                raise AssertionError(f"400 without a JSON error body: {method} {path} -> {r}")
            assert "NAME_INVALID" in codes or "NAME_UNKNOWN" in codes, f"{method} {path} -> {r}"
    return results


def test_invalid_repository_names_never_succeed_nor_escape_the_root(registry, planted):
    """Spec: names match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*.
    Unroutable paths may be 404.  The reference also answers 301 to a cleaned path for `//`
    and dot segments (clients do not follow redirects on PUT/POST), so 301 is tolerated here;
    the berth_only test below forbids it."""
    workdir = os.path.dirname(registry.root)
    before = snapshot(workdir, skip=[registry.log_path])
    for name in BAD_NAMES:
        send_hostile(registry, name, allowed=(301, 400, 404))
    after = snapshot(workdir, skip=[registry.log_path])
    assert after == before, f"files changed: {set(after) ^ set(before)}"
    assert_alive(registry)


@pytest.mark.berth_only  # the reference accepts `UPPER/case` (POST 202, creates the repository
# directory) and answers 301 redirects for `a//b` and dot segments.
def test_invalid_repository_names_are_400_or_404_and_create_nothing(registry, planted):
    workdir = os.path.dirname(registry.root)
    before = snapshot(workdir, skip=[registry.log_path])
    for name in STRICT_BAD_NAMES:
        send_hostile(registry, name, allowed=(400, 404))
    after = snapshot(workdir, skip=[registry.log_path])
    assert after == before, f"files changed: {set(after) ^ set(before)}"
    assert_alive(registry)


@pytest.mark.berth_only  # the reference answers 404 "404 page not found" (text/plain)
def test_uppercase_repository_name_is_400_name_invalid(registry):
    for path in ("/v2/Bad/manifests/latest", "/v2/UPPER/case/manifests/latest", "/v2/team/App/tags/list"):
        r = requests.get(registry.base_url + path, timeout=TIMEOUT)
        assert_error(r, 400, "NAME_INVALID")
    r = requests.post(f"{registry.base_url}/v2/UPPER/case/blobs/uploads/", timeout=TIMEOUT)
    assert_error(r, 400, "NAME_INVALID")
    assert_alive(registry)


def test_valid_unusual_repository_names_work(registry):
    base = registry.base_url
    for name in ("a", "a.b/c_d/e__f/g-h/i--j", "0/1/2/3/4/5/6/7", "x" * 100):
        img = push_image(base, name, "v1", nlayers=1, layer_size=10)
        assert img["response"].status_code == 201, describe(img["response"])
        r = requests.get(f"{base}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == img["manifest"], describe(r)


# --- malformed HTTP -----------------------------------------------------------------------
def test_malformed_request_line_is_400_and_connection_closes(registry):
    r = raw_request(registry.host, b"GARBAGE\r\n\r\n", wait_close=True)
    assert r.status == 400, r
    assert r.closed, r
    assert_alive(registry)


def test_malformed_heads_are_4xx_and_do_not_break_the_server(registry):
    for payload in (b"\x00\x01\x02\x03\r\n\r\n",
                    b"GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                    b"GET /v2/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                    b"GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"):
        r = raw_request(registry.host, payload, wait_close=True)
        assert r.status is None or 400 <= r.status < 500, (payload, r)
        assert r.closed, (payload, r)
    # An unknown HTTP version: answered (505 or served), never a crash.
    r = raw_request(registry.host, b"GET /v2/ HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n", wait_close=True)
    assert r.status in (None, 200, 400, 505), r
    assert_alive(registry)


@pytest.mark.berth_only  # the reference (Go net/http) accepts up to 1 MiB of headers: 200 here
def test_oversized_header_is_431(registry):
    r = simple_request(registry.host, "GET", "/v2/", headers={"X-Big": "a" * (100 * 1024)}, wait_close=True)
    assert r.status == 431, r
    assert_alive(registry)


def test_huge_header_is_rejected_with_4xx(registry):
    r = simple_request(registry.host, "GET", "/v2/", headers={"X-Big": "a" * (2 * 1024 * 1024)}, wait_close=True)
    assert r.status in (400, 413, 431) or (r.status is None and r.closed), r
    assert_alive(registry)


def tls_client_hello():
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


@pytest.mark.berth_only  # the reference waits for a newline that never comes (a read timeout
# would be needed); clients like skopeo with --tls-verify=false try https first and only fall back
# to http after the TLS attempt fails, so the server must reject the handshake bytes at once.
def test_tls_client_hello_on_plain_http_is_rejected_without_waiting_for_a_line(registry):
    hello = tls_client_hello().replace(b"\n", b"\x0b").replace(b"\r", b"\x0b")
    assert hello[:1] == b"\x16"
    r = raw_request(registry.host, hello, wait_close=True, timeout=10)
    assert r.closed, r
    assert r.status in (None, 400), r
    assert_alive(registry)


def test_connection_closed_mid_headers_does_not_break_the_server(registry):
    for payload in (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-A: ", b"PUT /v2/a/manifests/x HTTP/1.1\r\n", b"G"):
        with connect(registry.host) as s:
            s.sendall(payload)
    assert_alive(registry)


def test_keep_alive_serves_several_requests_on_one_connection(registry):
    with connect(registry.host) as s:
        for _ in range(3):
            s.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {registry.host}\r\n\r\n".encode())
            r = read_response(s)
            assert r.status == 200 and r.body == b"{}", r
        # pipelined
        s.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {registry.host}\r\n\r\n".encode() * 2)
        assert read_response(s).status == 200
        assert read_response(s).status == 200


def test_registry_survives_all_of_the_above_in_sequence(registry):
    host = registry.host
    raw_request(host, b"GARBAGE\r\n\r\n", wait_close=True)
    simple_request(host, "GET", "/v2/", headers={"X-Big": "a" * (100 * 1024)}, wait_close=True)
    simple_request(host, "GET", "/v2/../../etc/passwd")
    simple_request(host, "GET", "/v2/a/b/blobs/sha256:xyz")
    with connect(host) as s:  # a body announced but never sent, then the client goes away
        s.sendall(b"PUT /v2/a/b/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    assert_alive(registry)
    data = random_bytes(1000)
    push_blob(registry.base_url, "team/after", data)
    g = requests.get(f"{registry.base_url}/v2/team/after/blobs/{digest_of(data)}", timeout=TIMEOUT)
    assert g.status_code == 200 and g.content == data
