"""TLS on Berth's own listener (`http.tls` as registry:2 names it): a CA, server and client certificates made
here with the openssl CLI; curl, skopeo and `openssl s_client` as the clients; mutual TLS; versions, AEAD-only
suites and ALPN; the certificate read again on SIGHUP while an open connection goes on; a 64 MiB blob with
Range over TLS (the read + SSL_write path, counted in /metrics); and one registry:2 config.yml given as it is
to Berth and to Debian's docker-registry. Runs on $BERTH_WORKERS workers (the supervisor's reload with 2)."""

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests

from conftest import berth_binary, reference_binary
from imagebuild import Layout, read_layout, skopeo, OCI_MANIFEST
from mirrorutil import make_ca_and_server_cert, openssl
from regutil import digest_of, free_port, random_bytes, read_response, wait_for
from processes import stop_process

WORKERS = os.environ.get("BERTH_WORKERS", "1")


def client_cert(certs, directory, name="client"):
    """A client certificate signed by the test CA (for mutual TLS)."""
    d = str(directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", certs["ca"], "-CAkey", certs["ca_key"], "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


class TLSBerth:
    """Berth started with a config file of its own, serving TLS on a free port; stopped by PID."""

    def __init__(self, tmp_path, certs, tls_extra="", env=None, binary=None):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"https://{self.host}"
        self.certs = certs
        self.root = tmp_path / "root"
        self.log_path = tmp_path / "berth.log"
        self.config = tmp_path / "config.yml"
        self.config.write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem: {{rootdirectory: {self.root}}}\n  delete: {{enabled: true}}\n"
            f"http:\n  addr: {self.host}\n  tls:\n    certificate: {certs['cert']}\n    key: {certs['key']}\n" + tls_extra)
        argv = [binary or berth_binary(), "serve", "--config", str(self.config)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env={**os.environ, "BERTH_WORKERS": WORKERS, **(env or {})})

    def logs(self):
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, **request_args):
        def ready():
            assert self.proc.poll() is None, f"berth exited {self.proc.returncode}:\n{self.logs()}"
            try:
                return requests.get(self.base + "/v2/", verify=self.certs["ca"], timeout=2, **request_args).status_code == 200
            except requests.RequestException:
                return False
        wait_for(ready, f"berth serving TLS on {self.host}\n{self.logs()}", timeout=30)
        return self

    def stop(self):
        stop_process(self.proc, timeout=15)


@pytest.fixture
def certs(tmp_path):
    return make_ca_and_server_cert(tmp_path / "certs")


@pytest.fixture
def start_tls(tmp_path, certs):
    servers = []

    def start(tls_extra="", env=None, ready=True, **request_args):
        server = TLSBerth(tmp_path, certs, tls_extra, env)
        servers.append(server)
        return server.wait_ready(**request_args) if ready else server
    yield start
    for server in servers:
        server.stop()


def curl(*args, check=True):
    p = subprocess.run(["curl", "-sS", "--max-time", "60", *args], capture_output=True, timeout=90)
    if check:
        assert p.returncode == 0, f"curl {' '.join(args)} failed ({p.returncode}): {p.stderr.decode(errors='replace')}"
    return p


def s_client(host, *args, data=b""):
    """openssl s_client against `host`; returns (succeeded, output)."""
    p = subprocess.run(["openssl", "s_client", "-connect", host, "-servername", "localhost", *args],
                       input=data or b"Q\n", capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode(errors="replace")
    handshake = "Cipher is (NONE)" not in out and ("Cipher is " in out or "Cipher    :" in out) and p.returncode == 0
    return handshake, out


def fingerprint(host, ca):
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(tuple(host.rsplit(":", 1)[0:1]) + (int(host.rsplit(":", 1)[1]),), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def test_curl_pushes_and_pulls_a_blob_and_a_manifest_over_tls(start_tls, certs):
    berth = start_tls()
    ca = ["--cacert", certs["ca"]]
    blob = random_bytes(100_000)
    digest = digest_of(blob)
    started = curl(*ca, "-i", "-X", "POST", f"{berth.base}/v2/tls/curl/blobs/uploads/").stdout.decode()
    location = next(line.split(":", 1)[1].strip() for line in started.splitlines() if line.lower().startswith("location:"))
    location = location if location.startswith("http") else berth.base + location
    sep = "&" if "?" in location else "?"
    blob_file = berth.root.parent / "blob.bin"
    blob_file.write_bytes(blob)
    put = curl(*ca, "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Type: application/octet-stream",
               "--data-binary", f"@{blob_file}", f"{location}{sep}digest={digest}")
    assert put.stdout == b"201"
    got = curl(*ca, f"{berth.base}/v2/tls/curl/blobs/{digest}").stdout
    assert got == blob
    config = b"{}"
    curl(*ca, "-X", "POST", "--data-binary", "{}", "-H", "Content-Type: application/octet-stream",
         f"{berth.base}/v2/tls/curl/blobs/uploads/?digest={digest_of(config)}")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": 2},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": len(blob)}]}).encode()
    manifest_file = berth.root.parent / "manifest.json"
    manifest_file.write_bytes(manifest)
    put = curl(*ca, "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", f"Content-Type: {OCI_MANIFEST}",
               "--data-binary", f"@{manifest_file}", f"{berth.base}/v2/tls/curl/manifests/v1")
    assert put.stdout == b"201"
    assert curl(*ca, "-H", f"Accept: {OCI_MANIFEST}", f"{berth.base}/v2/tls/curl/manifests/v1").stdout == manifest
    # ALPN says http/1.1, and plain HTTP on the TLS port gets no answer.
    assert "ALPN protocol: http/1.1" in s_client(berth.host, "-alpn", "h2,http/1.1", "-CAfile", certs["ca"])[1]
    plain = curl(f"http://{berth.host}/v2/", check=False)
    assert plain.returncode != 0 or not plain.stdout.startswith(b"{"), plain


def test_skopeo_copies_to_and_from_berth_over_tls_with_a_cert_dir(start_tls, certs, tmp_path):
    berth = start_tls()
    cert_dir = tmp_path / "certs.d"
    cert_dir.mkdir()
    shutil.copy(certs["ca"], cert_dir / "ca.crt")
    layout = Layout(tmp_path / "src")
    image = layout.add_image(nlayers=2)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    skopeo("copy", "--dest-cert-dir", str(cert_dir), f"oci:{tmp_path / 'src'}:v1", f"docker://{berth.host}/tls/skopeo:v1",
           tmp_path=tmp_path)
    skopeo("copy", "--src-cert-dir", str(cert_dir), f"docker://{berth.host}/tls/skopeo:v1", f"oci:{tmp_path / 'dst'}:v1",
           tmp_path=tmp_path)
    manifest, _, blobs = read_layout(tmp_path / "dst", "v1")
    assert digest_of(manifest) == image["digest"]
    assert all(blobs[digest_of(layer)] == layer for layer in image["layers"])
    # Without the CA skopeo refuses the certificate: the test is of TLS, not of an insecure fallback.
    with pytest.raises(AssertionError, match="certificate"):
        skopeo("inspect", "--raw", f"docker://{berth.host}/tls/skopeo:v1", tmp_path=tmp_path)


def test_mutual_tls_refuses_a_client_without_a_certificate_and_serves_one_with(start_tls, certs, tmp_path):
    cert, key = client_cert(certs, tmp_path / "certs")
    berth = start_tls(f"    clientcas:\n      - {certs['ca']}\n", ready=False)
    berth.wait_ready(cert=(cert, key))
    refused = curl("--cacert", certs["ca"], f"{berth.base}/v2/", check=False)
    assert refused.returncode != 0, refused
    # A certificate from another CA is refused as well.
    other = make_ca_and_server_cert(tmp_path / "other")
    stranger = client_cert(other, tmp_path / "other", name="stranger")
    assert curl("--cacert", certs["ca"], "--cert", stranger[0], "--key", stranger[1], f"{berth.base}/v2/", check=False).returncode != 0
    served = curl("--cacert", certs["ca"], "--cert", cert, "--key", key, "-o", "/dev/null", "-w", "%{http_code}", f"{berth.base}/v2/")
    assert served.stdout == b"200"
    # The refusals did not stop the loop.
    assert curl("--cacert", certs["ca"], "--cert", cert, "--key", key, "-o", "/dev/null", "-w", "%{http_code}",
                f"{berth.base}/v2/").stdout == b"200"


def test_tls_1_1_is_refused_1_2_and_1_3_served_with_aead_suites_only(start_tls, certs):
    berth = start_tls()
    ok, out = s_client(berth.host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert not ok, out
    for version in ("-tls1_2", "-tls1_3"):
        ok, out = s_client(berth.host, version, "-CAfile", certs["ca"])
        assert ok, out
    for cbc in ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "AES128-SHA256"):
        ok, out = s_client(berth.host, "-tls1_2", "-cipher", cbc)
        assert not ok, (cbc, out)
    ok, out = s_client(berth.host, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert ok and "ECDHE-RSA-AES128-GCM-SHA256" in out, out


def test_a_session_is_resumed_on_later_connections_whichever_worker_takes_them(start_tls, certs, tmp_path):
    """TLS 1.2 tickets sealed with the supervisor's keys: every later connection resumes (with 2 workers the
    kernel spreads them over both)."""
    berth = start_tls()
    session = str(tmp_path / "session.pem")
    ok, out = s_client(berth.host, "-tls1_2", "-CAfile", certs["ca"], "-sess_out", session)
    assert ok and "New, TLSv1.2" in out, out
    for attempt in range(8):
        ok, out = s_client(berth.host, "-tls1_2", "-CAfile", certs["ca"], "-sess_in", session)
        assert ok and "Reused, TLSv1.2" in out, (attempt, out)


def test_minimumtls_tls1_3_and_listed_suites_are_in_force(start_tls, certs):
    berth = start_tls("    minimumtls: tls1.3\n")
    assert not s_client(berth.host, "-tls1_2")[0]
    assert s_client(berth.host, "-tls1_3")[0]
    berth.stop()
    berth = start_tls("    ciphersuites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n")
    assert not s_client(berth.host, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")[0]
    ok, out = s_client(berth.host, "-tls1_2")
    assert ok and "ECDHE-RSA-AES256-GCM-SHA384" in out, out
    # registry:2 allows tls1.0; OpenSSL's security level here still refuses it (never lowered), and Berth says so.
    berth.stop()
    berth = start_tls("    minimumtls: tls1.0\n")
    assert not s_client(berth.host, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")[0]
    assert "OpenSSL refuses TLS below 1.2" in berth.logs()


GO_PLAIN_HTTP_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


def answer_to(port, payload):
    """What a server sends back to `payload` on a new connection, up to its end."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def test_plain_http_on_the_tls_port_is_answered_400_as_go_does_garbage_is_cut_and_the_loop_goes_on(start_tls, certs):
    berth = start_tls()
    for method in (b"GET /v2/", b"HEAD /v2/", b"POST /v2/x/blobs/uploads/", b"PUT /v2/x/manifests/a", b"OPTIONS *"):
        assert answer_to(berth.port, method + b" HTTP/1.1\r\nHost: x\r\n\r\n") == GO_PLAIN_HTTP_ANSWER, method
    # A TLS record header and then garbage, or garbage from the first byte: cut, nothing answered.
    for payload in (b"\x16\x03\x01\x00\x05" + os.urandom(4096), b"DELETE /v2/x HTTP/1.1\r\n\r\n" + os.urandom(4096)):
        assert b"HTTP" not in answer_to(berth.port, payload)
    assert requests.get(berth.base + "/v2/", verify=certs["ca"], timeout=5).status_code == 200


def test_pipelined_requests_and_a_100_continue_upload_over_tls_are_answered_in_order(start_tls, certs):
    """Requests written in one TLS record burst wait decrypted or still encrypted inside OpenSSL while the
    answer before them is out; each is answered, in order, on the one connection."""
    berth = start_tls()
    blob = random_bytes(3 << 20)
    digest = _push(berth, certs, "tls/pipe", blob)
    context = ssl.create_default_context(cafile=certs["ca"])
    with context.wrap_socket(socket.create_connection(("127.0.0.1", berth.port), timeout=30), server_hostname="127.0.0.1") as sock:
        requests_ = []
        for i in range(30):
            requests_.append(("HEAD", f"HEAD /v2/tls/pipe/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n") if i % 3 == 1 else
                             ("GET", f"GET /v2/tls/pipe/blobs/{digest} HTTP/1.1\r\nHost: x\r\nRange: bytes={i}-{i + 99999}\r\n\r\n"
                              if i % 3 == 2 else f"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"))
        sock.sendall("".join(text for _, text in requests_).encode())
        for i, (method, _) in enumerate(requests_):
            response = read_response(sock, method=method)
            if i % 3 == 2:
                assert response.status == 206 and response.body == blob[i:i + 100000], (i, response)
            elif i % 3 == 1:
                assert response.status == 200 and response.header("Content-Length") == str(len(blob)), (i, response)
            else:
                assert response.status == 200, (i, response)
    body = berth.root.parent / "upload.bin"
    body.write_bytes(random_bytes(1 << 20))
    started = requests.post(f"{berth.base}/v2/tls/pipe/blobs/uploads/", verify=certs["ca"], timeout=30)
    location = started.headers["Location"]
    location = location if location.startswith("http") else berth.base + location
    put = curl("--cacert", certs["ca"], "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-T", str(body),
               "-H", "Expect: 100-continue", "-H", "Content-Type: application/octet-stream",
               f"{location}{'&' if '?' in location else '?'}digest={digest_of(body.read_bytes())}")
    assert put.stdout.split()[0] == b"201", put.stdout


def _replace_certificate(certs, directory):
    """A new key and certificate for the same names, written over the served files."""
    fresh = make_ca_and_server_cert(directory)
    # Signed by the original CA, so that clients trusting it accept the new one.
    openssl("x509", "-req", "-in", os.path.join(str(directory), "server.csr"), "-CA", certs["ca"], "-CAkey", certs["ca_key"],
            "-CAcreateserial", "-out", "renewed.pem", "-days", "2", "-extfile", os.path.join(str(directory), "server.ext"),
            cwd=str(directory))
    shutil.copy(fresh["key"], certs["key"])
    shutil.copy(os.path.join(str(directory), "renewed.pem"), certs["cert"])


def test_sighup_serves_a_new_certificate_to_new_connections_while_an_open_one_goes_on(start_tls, certs, tmp_path):
    berth = start_tls()
    blob = random_bytes(32 << 20)
    digest = _push(berth, certs, "tls/reload", blob)
    before = fingerprint(berth.host, certs["ca"])
    context = ssl.create_default_context(cafile=certs["ca"])
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", berth.port), timeout=30), server_hostname="127.0.0.1")
    sock.sendall(f"GET /v2/tls/reload/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = sock.recv(1 << 16)
    _replace_certificate(certs, tmp_path / "renewed")
    berth.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: fingerprint(berth.host, certs["ca"]) != before, "a new connection sees the new certificate")
    # The connection open before the reload finishes its answer with the old certificate.
    head_end = received.find(b"\r\n\r\n")
    while head_end < 0:
        received += sock.recv(1 << 16)
        head_end = received.find(b"\r\n\r\n")
    body = received[head_end + 4:]
    while len(body) < len(blob):
        chunk = sock.recv(1 << 20)
        assert chunk, "the open connection was cut by the reload"
        body += chunk
    assert hashlib.sha256(body).hexdigest() == digest.split(":")[1]
    assert hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest() == before
    if WORKERS == "1":
        # One process reloads the certificate in place: the kept-alive connection takes another request.
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 200")
    sock.close()
    assert requests.get(berth.base + "/v2/", verify=certs["ca"], timeout=5).status_code == 200


def _push(berth, certs, repo, blob):
    digest = digest_of(blob)
    start = requests.post(f"{berth.base}/v2/{repo}/blobs/uploads/", verify=certs["ca"], timeout=30)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    location = location if location.startswith("http") else berth.base + location
    put = requests.put(location, params={"digest": digest}, data=blob, verify=certs["ca"], timeout=120,
                       headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201, put.text
    return digest


def test_a_64_mib_blob_and_a_range_of_it_come_back_byte_identical_over_tls(start_tls, certs):
    berth = start_tls()
    blob = random_bytes(64 << 20)
    digest = _push(berth, certs, "tls/big", blob)
    whole = requests.get(f"{berth.base}/v2/tls/big/blobs/{digest}", verify=certs["ca"], timeout=120)
    assert whole.status_code == 200 and whole.content == blob
    first, last = 1_000_003, (40 << 20) + 17
    part = requests.get(f"{berth.base}/v2/tls/big/blobs/{digest}", verify=certs["ca"], timeout=120,
                        headers={"Range": f"bytes={first}-{last}"})
    assert part.status_code == 206 and part.content == blob[first:last + 1]
    tail = requests.get(f"{berth.base}/v2/tls/big/blobs/{digest}", verify=certs["ca"], timeout=120,
                        headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == blob[-5:]
    def fallback_bytes():
        text = requests.get(berth.base + "/metrics", verify=certs["ca"], timeout=10).text
        line = next(l for l in text.splitlines() if l.startswith('berth_tls_body_bytes_total{path="fallback"}'))
        return float(line.split()[-1])
    # The kernel here has no TLS ULP: every body byte went out by read + SSL_write (workers publish their
    # counts on their own schedule, hence the wait).
    expected = len(blob) + (last - first + 1) + 5
    wait_for(lambda: fallback_bytes() >= expected, f"berth_tls_body_bytes_total{{path=\"fallback\"}} >= {expected}")


def test_tls_keys_from_registry2_environment_variables_are_honoured(tmp_path, certs):
    port = free_port()
    root = tmp_path / "root"
    env = {**os.environ, "BERTH_WORKERS": WORKERS, "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
           "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(root),
           "REGISTRY_HTTP_TLS_CERTIFICATE": certs["cert"], "REGISTRY_HTTP_TLS_KEY": certs["key"],
           "REGISTRY_HTTP_TLS_MINIMUMTLS": "tls1.3"}
    with open(tmp_path / "berth.log", "ab") as log:
        proc = subprocess.Popen([berth_binary(), "serve"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    try:
        wait_for(lambda: _serves(f"https://127.0.0.1:{port}/v2/", certs["ca"]) or proc.poll() is not None, "berth serving TLS")
        assert proc.poll() is None, (tmp_path / "berth.log").read_text()
        assert not s_client(f"127.0.0.1:{port}", "-tls1_2")[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def _serves(url, ca):
    try:
        return requests.get(url, verify=ca, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize("tls_extra,message", [
    ("    minimumtls: tls0.9\n", "http.tls.minimumtls: tls0.9 is not"),
    ("    ciphersuites: [TLS_RSA_WITH_RC4_128_SHA]\n", "not offered by OpenSSL 3"),
    ("    ciphersuites: [TLS_NOT_A_SUITE]\n", "not a cipher suite"),
    ("    letsencrypt:\n      cachefile: /le.json\n      email: a@example.com\n", "http.tls.letsencrypt: Berth has no ACME"),
])
def test_a_tls_setting_berth_cannot_honour_stops_it(tmp_path, certs, tls_extra, message):
    berth = TLSBerth(tmp_path, certs, tls_extra)
    try:
        assert berth.proc.wait(timeout=20) != 0
        assert message in berth.logs(), berth.logs()
    finally:
        berth.stop()


def test_a_certificate_without_its_key_or_an_unreadable_one_stops_berth(tmp_path, certs):
    config = tmp_path / "config.yml"
    config.write_text(f"http:\n  addr: 127.0.0.1:{free_port()}\n  tls:\n    certificate: {certs['cert']}\n"
                      f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'root'}}}}}\n")
    p = subprocess.run([berth_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "http.tls: Berth needs both http.tls.certificate and http.tls.key" in p.stderr, p.stderr
    config.write_text(f"http:\n  addr: 127.0.0.1:{free_port()}\n  tls:\n    certificate: {tmp_path}/missing.pem\n"
                      f"    key: {certs['key']}\nstorage: {{filesystem: {{rootdirectory: {tmp_path / 'root'}}}}}\n")
    p = subprocess.run([berth_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=20,
                       env={**os.environ, "BERTH_WORKERS": WORKERS})
    assert p.returncode != 0 and f"http.tls.certificate {tmp_path}/missing.pem" in p.stderr, p.stderr


def test_one_registry2_config_with_tls_runs_berth_and_docker_registry(tmp_path, certs):
    """The same config.yml, as registry:2 documents it, given to both: each serves /v2/ over TLS only."""
    for server in ("berth", "reference"):
        port = free_port()
        config = tmp_path / f"{server}.yml"
        config.write_text(f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {tmp_path / server}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: a-secret-for-the-test
  tls:
    certificate: {certs['cert']}
    key: {certs['key']}
    minimumtls: tls1.2
    ciphersuites:
      - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
      - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
  headers:
    X-Content-Type-Options: [nosniff]
""")
        argv = [berth_binary(), "serve", "--config", str(config)] if server == "berth" else [reference_binary(), "serve", str(config)]
        with open(tmp_path / f"{server}.log", "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env={**os.environ, "BERTH_WORKERS": WORKERS})
        try:
            wait_for(lambda: _serves(f"https://127.0.0.1:{port}/v2/", certs["ca"]) or proc.poll() is not None, f"{server} serving TLS")
            assert proc.poll() is None, (tmp_path / f"{server}.log").read_text()
            assert answer_to(port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n") == GO_PLAIN_HTTP_ANSWER, server
            ok, out = s_client(f"127.0.0.1:{port}", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
            assert not ok, (server, out)
            assert not s_client(f"127.0.0.1:{port}", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")[0], server
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
