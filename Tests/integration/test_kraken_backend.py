"""Kraken namespaces backed by an upstream registry (`kraken.namespaces[].backend: registry`).

The upstream is Debian's docker-registry on a free loopback port. `through=true` commits push the blob to
`<url>/v2/<repository>/blobs/<digest>` before answering; GET/HEAD of a blob that is not local fetch it from
the upstream once, however many clients ask (across worker processes too); the upstream's access log
(`"GET /v2/... HTTP/1.1" ...` lines in its log file) tells how many times it was asked. Blobs are stored
once on disk whatever the namespace or API.

Times are printed (pytest -s shows them), never asserted: the requests' timeouts only guard against hangs.
"""
import os
import re
import socket
import threading
import time
import urllib.parse

import pytest
import requests

from mirrorutil import HtpasswdReference, bcrypt_entry, start_registry_object
from regutil import describe, digest_of, push_blob

pytestmark = pytest.mark.berth_only  # Kraken's API is Berth's own addition

MiB = 1 << 20
TIMEOUT = 60  # seconds, only to avoid hangs
CHUNK = 8 * MiB


# --- helpers ---------------------------------------------------------------------------------
def _ns(namespace):
    """A namespace as Kraken's clients put it in the path: URL-encoded, `/` included."""
    return urllib.parse.quote(namespace, safe="")


def _blob_url(base, namespace, digest):
    return f"{base}/namespace/{_ns(namespace)}/blobs/{digest}"


def _registry_entry(pattern, url, repository=None, username=None, password=None):
    lines = [f"    - pattern: '{pattern}'", "      backend: registry", f"      url: '{url}'"]
    if repository is not None:
        lines.append(f"      repository: '{repository}'")
    if username is not None:
        lines += [f"      username: '{username}'", f"      password: '{password}'"]
    return "\n".join(lines) + "\n"


def _write_config(tmp_path, name, *entries, fetchtimeout=None):
    text = "kraken:\n  namespaces:\n" + "".join(entries) + "    - pattern: '.*'\n      backend: local\n"
    if fetchtimeout:
        text += f"  fetchtimeout: {fetchtimeout}\n"
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def _start_kraken_berth(start_berth, tmp_path, config, name, workers=None):
    """Berth with this Kraken config and an empty root of its own (returned with it).
    The fixture's own --config comes first; this one, given last, is the one read (addr and root by flag)."""
    root = tmp_path / f"{name}-root"
    args = ["--config", str(config), "--addr", "127.0.0.1:PORT", "--root", str(root)]
    if workers:
        args += ["--workers", str(workers)]
    return start_berth(*args), root


def _kraken_upload(base, namespace, data, comma_chunk=1):
    """Start an upload and send `data` in 8 MiB PATCHes (`Content-Range: start-end`, chunk number
    `comma_chunk` as `start,end`). Returns the upload id; the commit is left to the caller."""
    digest = digest_of(data)
    r = requests.post(f"{_blob_url(base, namespace, digest)}/uploads", timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    uid = r.headers.get("Location")
    assert uid and "/" not in uid, describe(r)
    for index, start in enumerate(range(0, len(data), CHUNK)):
        chunk = data[start:start + CHUNK]
        separator = "," if index == comma_chunk else "-"
        r = requests.patch(f"{_blob_url(base, namespace, digest)}/uploads/{uid}", data=chunk, timeout=TIMEOUT,
                           headers={"Content-Range": f"{start}{separator}{start + len(chunk)}",
                                    "Content-Type": "application/octet-stream"})
        assert r.status_code == 200, describe(r)
    return uid


def _commit(base, namespace, digest, uid, through=None):
    url = f"{_blob_url(base, namespace, digest)}/uploads/{uid}"
    if through is not None:
        url += f"?through={'true' if through else 'false'}"
    started = time.monotonic()
    r = requests.put(url, timeout=TIMEOUT)
    print(f"PUT ?through={through} -> {r.status_code} in {time.monotonic() - started:.2f}s")
    return r


def _assert_plain_text_error(r, statuses):
    """An error status among `statuses` with a non-empty plain-text body (no body to look at for HEAD)."""
    assert r.status_code in statuses, describe(r)
    if r.request.method == "HEAD":
        return
    assert r.headers.get("Content-Type", "").startswith("text/plain"), describe(r)
    assert r.text.strip(), describe(r)
    assert not r.text.lstrip().startswith("{"), describe(r)


def _upstream_blob_url(upstream, repository, digest):
    return upstream.url(f"/v2/{repository}/blobs/{digest}")


def _push_through(berth, namespace, upstream, repository, size, auth=None):
    """Upload `size` random bytes to `namespace` and commit them with through=true; the upstream must then
    serve them from `repository` (asked with `auth`). Returns (blob, digest)."""
    blob = os.urandom(size)
    digest = digest_of(blob)
    uid = _kraken_upload(berth.base_url, namespace, blob)
    r = _commit(berth.base_url, namespace, digest, uid, through=True)
    assert r.status_code == 200, describe(r)
    r = requests.get(_upstream_blob_url(upstream, repository, digest), auth=auth, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    return blob, digest


def _upstream_gets(upstream, repository, digest):
    """How many times the upstream's access log shows a GET of this blob (colon plain or %3A-encoded)."""
    algorithm, hex_ = digest.split(":")
    line = re.compile(rf'"GET /v2/{re.escape(repository)}/blobs/{algorithm}(?::|%3[aA]){hex_}[ ?]')
    return sum(1 for text in upstream.logs().splitlines() if line.search(text))


def _settled_upstream_gets(upstream, repository, digest):
    """The count once the upstream has logged at least one GET of the blob (it logs after answering)
    and then nothing more for a second."""
    deadline = time.monotonic() + 10
    count = _upstream_gets(upstream, repository, digest)
    while count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        count = _upstream_gets(upstream, repository, digest)
    while True:
        time.sleep(1.0)
        again = _upstream_gets(upstream, repository, digest)
        if again == count:
            return count
        count = again


def _blob_path(root, digest):
    hex_ = digest.split(":")[1]
    return os.path.join(str(root), "docker", "registry", "v2", "blobs", "sha256", hex_[:2], hex_, "data")


def _copies_on_disk(root, data):
    """Distinct files (by inode: hard links are one copy) anywhere under root that hold exactly `data`."""
    wanted = digest_of(data)
    found = {}
    for directory, _, files in os.walk(str(root)):
        for name in files:
            path = os.path.join(directory, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if not os.path.isfile(path) or os.path.islink(path) or st.st_size != len(data):
                continue
            with open(path, "rb") as f:
                if digest_of(f.read()) == wanted:
                    found.setdefault((st.st_dev, st.st_ino), path)
    return sorted(found.values())


def _data_files_for(root, digest):
    """Every `data` file under a directory named after the digest's hex, anywhere under root."""
    hex_ = digest.split(":")[1]
    return sorted(os.path.join(d, "data") for d, _, files in os.walk(str(root))
                  if os.path.basename(d) == hex_ and "data" in files)


# --- 1. through=true pushes to the registry backend ---------------------------------------------
def test_through_true_pushes_the_blob_to_the_registry_backend(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", upstream.base_url, "kraken/blobs"))
    berth, root = _start_kraken_berth(start_berth, tmp_path, config, "berth")
    base = berth.base_url

    blob = os.urandom(20 * MiB)
    digest = digest_of(blob)
    uid = _kraken_upload(base, "models/resnet", blob)  # 8 + 8 + 4 MiB, the second as `start,end`
    # Nothing is pushed before the commit.
    r = requests.head(_upstream_blob_url(upstream, "kraken/blobs", digest), timeout=TIMEOUT)
    assert r.status_code == 404, describe(r)

    r = _commit(base, "models/resnet", digest, uid, through=True)
    assert r.status_code == 200, describe(r)

    r = requests.head(_upstream_blob_url(upstream, "kraken/blobs", digest), timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    assert int(r.headers["Content-Length"]) == len(blob), describe(r)
    r = requests.get(_upstream_blob_url(upstream, "kraken/blobs", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    # Committed locally as well, once.
    r = requests.get(_blob_url(base, "models/resnet", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    copies = _copies_on_disk(root, blob)
    assert copies == [_blob_path(root, digest)], copies

    # through=false, and no through at all, commit locally only.
    for through in (False, None):
        small = os.urandom(MiB + 17)
        small_digest = digest_of(small)
        uid = _kraken_upload(base, "models/resnet", small)
        r = _commit(base, "models/resnet", small_digest, uid, through=through)
        assert r.status_code == 200, describe(r)
        r = requests.get(_blob_url(base, "models/resnet", small_digest), timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == small, describe(r)
        r = requests.head(_upstream_blob_url(upstream, "kraken/blobs", small_digest), timeout=TIMEOUT)
        assert r.status_code == 404, f"through={through} pushed the blob upstream\n{describe(r)}"


# --- 2. one upstream GET for ten concurrent clients ----------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_gets_of_a_remote_blob_share_one_upstream_fetch(start_registry, start_berth, tmp_path, workers):
    upstream = start_registry("reference", label="upstream")
    blob = os.urandom(20 * MiB)
    # Seeded straight into the upstream (test 1 covers pushing it there through Berth), so that this
    # test checks the fetch alone.
    digest = push_blob(upstream.base_url, "kraken/blobs", blob)
    config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", upstream.base_url, "kraken/blobs"))
    berth, root = _start_kraken_berth(start_berth, tmp_path, config, "berth", workers=workers)
    url = _blob_url(berth.base_url, "models/resnet", digest)
    assert _upstream_gets(upstream, "kraken/blobs", digest) == 0

    clients = 10
    barrier = threading.Barrier(clients)
    results = [None] * clients

    def client(i):
        try:
            barrier.wait(timeout=TIMEOUT)
            started = time.monotonic()
            r = requests.get(url, timeout=TIMEOUT)
            results[i] = (r.status_code, digest_of(r.content), len(r.content),
                          r.headers.get("Content-Type"), time.monotonic() - started,
                          r.text[:300] if r.status_code != 200 else "")
        except Exception as e:  # reported below with the others
            results[i] = ("exception", repr(e), 0, None, 0.0, "")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * TIMEOUT)
    for i, result in enumerate(results):
        print(f"client {i}: {result[0]} {result[2]} bytes in {result[4]:.2f}s" if result else f"client {i}: no result")
    expected = (200, digest, len(blob))
    assert all(result and result[:3] == expected for result in results), results

    gets = _settled_upstream_gets(upstream, "kraken/blobs", digest)
    assert gets == 1, (f"the upstream was asked {gets} times for the blob by {clients} concurrent clients "
                       f"(workers={workers})")

    # Stored locally, content-addressed: served with the upstream gone, without asking it again.
    path = _blob_path(root, digest)
    assert os.path.isfile(path), f"{path} missing; blob files: {_data_files_for(root, digest)}"
    with open(path, "rb") as f:
        assert digest_of(f.read()) == digest
    copies = _copies_on_disk(root, blob)
    assert copies == [path], f"the fetched blob is on disk {len(copies)} times: {copies}"
    upstream.stop()
    r = requests.get(url, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)


# --- 3. missing upstream blob, unreachable or silent upstream --------------------------------------
def test_blob_missing_upstream_is_404_and_an_unreachable_backend_is_502_or_503(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    present = os.urandom(MiB)
    present_digest = push_blob(upstream.base_url, "kraken/blobs", present)
    config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", upstream.base_url, "kraken/blobs"))
    berth, _ = _start_kraken_berth(start_berth, tmp_path, config, "berth")
    base = berth.base_url

    missing = digest_of(b"no registry has this blob " + os.urandom(16))
    for method in ("GET", "HEAD"):
        started = time.monotonic()
        r = requests.request(method, _blob_url(base, "models/resnet", missing), timeout=TIMEOUT)
        print(f"{method} of a blob the upstream does not have -> {r.status_code} in {time.monotonic() - started:.2f}s")
        _assert_plain_text_error(r, (404,))

    upstream.stop()  # by PID
    for method in ("GET", "HEAD"):
        started = time.monotonic()
        r = requests.request(method, _blob_url(base, "models/resnet", present_digest), timeout=TIMEOUT)
        print(f"{method} with the upstream stopped -> {r.status_code} in {time.monotonic() - started:.2f}s: {r.text!r}")
        _assert_plain_text_error(r, (502, 503))
    # Berth itself carries on.
    assert requests.get(berth.url("/v2/"), timeout=TIMEOUT).status_code == 200


def test_a_backend_that_never_answers_is_504_after_fetchtimeout(start_berth, tmp_path):
    """A listener that accepts and never says anything: the GET answers 504 after kraken.fetchtimeout."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        port = silent.getsockname()[1]
        config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", f"http://127.0.0.1:{port}",
                                                                   "kraken/blobs"), fetchtimeout="2s")
        berth, _ = _start_kraken_berth(start_berth, tmp_path, config, "berth")
        started = time.monotonic()
        r = requests.get(_blob_url(berth.base_url, "models/resnet", digest_of(b"never sent")), timeout=TIMEOUT)
        print(f"GET with a silent upstream -> {r.status_code} in {time.monotonic() - started:.2f}s: {r.text!r}")
        _assert_plain_text_error(r, (504,))
    finally:
        stop.set()
        acceptor.join(5)
        for conn in held:
            conn.close()
        silent.close()


# --- 4. through=true with the backend down ----------------------------------------------------------
def test_through_true_with_the_backend_down_is_5xx_and_the_blob_stays_committed(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", upstream.base_url, "kraken/blobs"))
    berth, _ = _start_kraken_berth(start_berth, tmp_path, config, "berth")
    base = berth.base_url

    blob = os.urandom(10 * MiB + 3)
    digest = digest_of(blob)
    uid = _kraken_upload(base, "models/resnet", blob)
    upstream.stop()  # by PID
    r = _commit(base, "models/resnet", digest, uid, through=True)
    print(f"answer: {r.text!r}")
    _assert_plain_text_error(r, tuple(range(500, 600)))

    r = requests.get(_blob_url(base, "models/resnet", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    r = requests.get(_blob_url(base, "models/resnet", digest), headers={"Range": "bytes=100-199"}, timeout=TIMEOUT)
    assert r.status_code == 206 and r.content == blob[100:200], describe(r)
    # Stored: a new upload of it is a conflict.
    r = requests.post(f"{_blob_url(base, 'models/resnet', digest)}/uploads", timeout=TIMEOUT)
    assert r.status_code == 409, describe(r)


# --- 5. one copy on disk whatever the API ------------------------------------------------------------
@pytest.mark.parametrize("first", ["v2", "kraken"])
def test_a_blob_pushed_through_v2_and_kraken_is_stored_once(start_berth, tmp_path, first):
    config = _write_config(tmp_path, "kraken")  # every namespace local
    berth, root = _start_kraken_berth(start_berth, tmp_path, config, "berth")
    base = berth.base_url
    blob = os.urandom(5 * MiB + 1)
    digest = digest_of(blob)
    namespace, repository = "shared/blobs", "team/app"

    if first == "v2":
        assert push_blob(base, repository, blob) == digest
        # Namespaces are isolated as repositories are: the bytes are here, but not in the namespace, so
        # it takes an upload (which proves the client has them), and the commit only links them.
        r = requests.get(_blob_url(base, namespace, digest), timeout=TIMEOUT)
        assert r.status_code == 404, f"Kraken GET of a blob pushed only through V2\n{describe(r)}"
        uid = _kraken_upload(base, namespace, blob)
        r = _commit(base, namespace, digest, uid)
        assert r.status_code == 200, describe(r)
    else:
        uid = _kraken_upload(base, namespace, blob)
        r = _commit(base, namespace, digest, uid)
        assert r.status_code == 200, describe(r)
        assert push_blob(base, repository, blob) == digest

    data_files = _data_files_for(root, digest)
    assert data_files == [_blob_path(root, digest)], data_files
    copies = _copies_on_disk(root, blob)
    assert len(copies) == 1, f"the blob is on disk {len(copies)} times: {copies}"

    r = requests.get(f"{base}/v2/{repository}/blobs/{digest}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    r = requests.get(_blob_url(base, namespace, digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)


# --- 6. the default upstream repository is the namespace -------------------------------------------
def test_without_repository_the_namespace_is_the_upstream_repository(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", upstream.base_url))
    berth, _ = _start_kraken_berth(start_berth, tmp_path, config, "berth")

    blob, digest = _push_through(berth, "models/bert", upstream, "models/bert", 3 * MiB + 5)

    # A second Berth, empty, same config: HEAD and GET find it in models/bert upstream.
    fresh, _ = _start_kraken_berth(start_berth, tmp_path, config, "fresh")
    r = requests.head(_blob_url(fresh.base_url, "models/bert", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(blob), describe(r)
    r = requests.get(_blob_url(fresh.base_url, "models/bert", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
    assert _settled_upstream_gets(upstream, "models/bert", digest) >= 2  # ours above, and the fresh Berth's


# --- credentials --------------------------------------------------------------------------------------
def test_registry_backend_credentials_are_used_for_push_and_fetch(request, start_registry, start_berth, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(bcrypt_entry("alice", "secret") + "\n")
    # its log on failure, and stopped by start_registry's teardown
    upstream = start_registry_object(request, HtpasswdReference(tmp_path / "upstream", htpasswd, realm="berth-tests"))
    assert requests.get(upstream.url("/v2/"), auth=("alice", "secret"), timeout=TIMEOUT).status_code == 200

    config = _write_config(tmp_path, "kraken", _registry_entry("^models/.*", upstream.base_url, "kraken/blobs",
                                                               username="alice", password="secret"))
    berth, _ = _start_kraken_berth(start_berth, tmp_path, config, "berth")
    blob, digest = _push_through(berth, "models/resnet", upstream, "kraken/blobs", 2 * MiB + 9,
                                 auth=("alice", "secret"))

    fresh, _ = _start_kraken_berth(start_berth, tmp_path, config, "fresh")
    r = requests.get(_blob_url(fresh.base_url, "models/resnet", digest), timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == blob, describe(r)
