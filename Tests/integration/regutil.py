"""Helpers shared by the integration tests: digests, raw HTTP, registry API calls."""

import hashlib
import json
import os
import socket
import time
import urllib.parse
import weakref

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

TIMEOUT = 30  # seconds, only to avoid hangs


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def wait_for(condition, what, timeout=60, interval=0.05):
    """Polls `condition` until it holds; fails naming `what` after `timeout` seconds. The wait for a state,
    instead of a sleep that guesses how long reaching it takes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout} s: {what}"
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def location(resp) -> str:
    """The response's Location resolved against the request URL, as clients do."""
    loc = resp.headers.get("Location")
    assert loc, f"{resp.request.method} {resp.url} -> {resp.status_code} has no Location header"
    return urllib.parse.urljoin(resp.url, loc)


def with_query(url: str, **params) -> str:
    """Add query parameters, keeping the ones already there (e.g. the reference's _state)."""
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    q = [(k, v) for k, v in q if k not in params] + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


def describe(resp) -> str:
    body = resp.content[:2000] if resp.request.method != "HEAD" else b""
    return (
        f"{resp.request.method} {resp.url} -> {resp.status_code}\n"
        f"headers: {dict(resp.headers)}\nbody: {body!r}"
    )


def error_codes(resp):
    return [e.get("code") for e in resp.json().get("errors", [])]


def assert_error_shape(resp):
    """An error body is {"errors": [{"code": str, "message": str, ...}, ...]}."""
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON\n{describe(resp)}")
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], describe(resp)
    for e in body["errors"]:
        assert isinstance(e, dict), describe(resp)
        assert isinstance(e.get("code"), str) and e["code"], describe(resp)
        assert isinstance(e.get("message"), str), describe(resp)
    return body


def assert_error(resp, status, *codes, detail=False):
    """An error answer (OCI dist-spec "Error codes"): its status is `status` (an int or a collection of them)
    and, except for HEAD, its body is JSON of the spec's shape with every code among `codes` (when given) and,
    with `detail`, a detail member in each error. The errors, or None for HEAD."""
    statuses = (status,) if isinstance(status, int) else tuple(status)
    assert resp.status_code in statuses, describe(resp)
    if resp.request.method == "HEAD":
        return None
    assert resp.headers.get("Content-Type", "").startswith("application/json"), describe(resp)
    errors = assert_error_shape(resp)["errors"]
    if detail:
        assert all("detail" in e for e in errors), f"no detail in the error\n{describe(resp)}"
    if codes:
        got = [e["code"] for e in errors]
        assert all(c in codes for c in got), f"expected codes among {codes}, got {got}\n{describe(resp)}"
    return errors


# --- registry API -------------------------------------------------------------------------
def start_upload(base, repo, session=requests, **params):
    url = f"{base}/v2/{repo}/blobs/uploads/"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    r = session.post(url, timeout=TIMEOUT)
    assert r.status_code == 202, describe(r)
    return r


def push_blob(base, repo, data: bytes, session=requests) -> str:
    """POST + PUT ?digest= with the whole body (every registry supports this)."""
    d = digest_of(data)
    r = start_upload(base, repo, session)
    r = session.put(
        with_query(location(r), digest=d),
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, describe(r)
    return d


def push_manifest(base, repo, ref, body: bytes, media_type, session=requests):
    return session.put(
        f"{base}/v2/{repo}/manifests/{ref}",
        data=body,
        headers={"Content-Type": media_type},
        timeout=TIMEOUT,
    )


def get_manifest(base, repo, ref, method="GET", accept=MANIFEST_ACCEPT, session=requests):
    return session.request(
        method, f"{base}/v2/{repo}/manifests/{ref}", headers={"Accept": accept}, timeout=TIMEOUT
    )


def descriptor(media_type, data: bytes, **extra):
    d = {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}
    d.update(extra)
    return d


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def push_image(base, repo, tag, nlayers=2, docker=False, layer_size=4096, push_layers=True):
    """Push config + layers + manifest (by digest when tag is None). Returns a dict describing it."""
    config = canonical({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                        "nonce": random_bytes(8).hex()})
    layers = [random_bytes(layer_size) for _ in range(nlayers)]
    if push_layers:
        push_blob(base, repo, config)
        for layer in layers:
            push_blob(base, repo, layer)
    mt = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, config),
        "layers": [descriptor(DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP, l) for l in layers],
    })
    r = push_manifest(base, repo, tag if tag is not None else digest_of(manifest), manifest, mt)
    return {"manifest": manifest, "digest": digest_of(manifest), "media_type": mt,
            "config": config, "layers": layers, "response": r}


# --- raw sockets --------------------------------------------------------------------------
class RawResponse:
    def __init__(self, status, reason, headers, body, closed, raw):
        self.status, self.reason, self.headers, self.body, self.closed, self.raw = (
            status, reason, headers, body, closed, raw)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<RawResponse {self.status} {self.reason} headers={self.headers} body={self.body[:500]!r} closed={self.closed}>"


def connect(hostport, timeout=TIMEOUT):
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    return s


class SocketReader:
    """Buffered reads from a socket, so that pipelined responses are not mixed up."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                return None
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out


_READERS = weakref.WeakKeyDictionary()


def _reader(sock):
    """One SocketReader per socket, so consecutive read_response calls share the buffer."""
    if isinstance(sock, SocketReader):
        return sock
    if sock not in _READERS:
        _READERS[sock] = SocketReader(sock)
    return _READERS[sock]


def read_response(sock, method="GET", wait_close=False):
    """Read one HTTP/1.1 response. `closed` tells whether the server then closed the connection
    (only checked when wait_close is True, or when the body is delimited by the close)."""
    rd = _reader(sock)
    head = rd.read_until(b"\r\n\r\n")
    if head is None:
        return RawResponse(None, None, {}, b"", True, rd.read_to_eof())
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        pass
    elif "content-length" in headers:
        body = rd.read_exact(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = rd.read_until(b"\r\n")
            if size_line is None:
                break
            n = int(size_line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                rd.read_until(b"\r\n")
                break
            body += rd.read_exact(n)
            rd.read_until(b"\r\n")
    else:
        body = rd.read_to_eof()
    closed = rd.eof and not rd.buf
    if wait_close and not closed:
        try:
            closed = not rd._fill() and not rd.buf
        except socket.timeout:
            closed = False
    return RawResponse(status, reason, headers, body, closed, head + body)


def raw_request(hostport, payload: bytes, method="GET", wait_close=False, timeout=TIMEOUT):
    """Send bytes as they are (no client-side path normalisation) and read one response."""
    with connect(hostport, timeout) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        return read_response(s, method, wait_close)


def simple_request(hostport, method, path, headers=None, body=b"", wait_close=False):
    hdrs = {"Host": hostport, "Connection": "close"}
    if body or method in ("PUT", "POST", "PATCH"):
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return raw_request(hostport, head.encode("latin-1") + body, method=method, wait_close=wait_close)
