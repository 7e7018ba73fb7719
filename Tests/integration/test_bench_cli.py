"""`berth bench` (issue 17): each scenario against a Berth started here and against docker-registry, with
the request counts checked against the server's own books (Berth's /metrics, docker-registry's access
log) and the JSON output parsed; `--verify` against a Python peer that serves one wrong byte."""
import json
import os
import pty
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import berth_binary
from regutil import free_port
from test_htpasswd import Server, htpasswd, registry2_config

LOAD = 40
SEED_REQUESTS = 5  # two blobs (POST + PUT each) and the manifest PUT

# (scenario arguments, the load's requests as (method, Berth's metrics route, status, docker-registry's path regex))
SCENARIOS = {
    "manifest-get": (["manifest-get"], [("GET", "manifest", 200, r"/v2/bench/manifests/latest")]),
    "manifest-get-by-digest": (["manifest-get", "--by-digest"], [("GET", "manifest", 200, r"/v2/bench/manifests/sha256:[0-9a-f]{64}")]),
    "manifest-head": (["manifest-head"], [("HEAD", "manifest", 200, r"/v2/bench/manifests/latest")]),
    "manifest-head-by-digest": (["manifest-head", "--by-digest"], [("HEAD", "manifest", 200, r"/v2/bench/manifests/sha256:[0-9a-f]{64}")]),
    "blob-get": (["blob-get"], [("GET", "blob", 200, r"/v2/bench/blobs/sha256:[0-9a-f]{64}")]),
    "blob-get-range": (["blob-get", "--range", "100-4195"], [("GET", "blob", 206, r"/v2/bench/blobs/sha256:[0-9a-f]{64}")]),
    "push-monolithic": (["push-monolithic"], [("POST", "uploads", 202, r"/v2/bench/blobs/uploads/"),
                                              ("PUT", "upload", 201, r"/v2/bench/blobs/uploads/[^ ]*digest=sha256[^ ]*")]),
    "tags-list": (["tags-list"], [("GET", "tags", 200, r"/v2/bench/tags/list")]),
    "catalog": (["catalog"], [("GET", "catalog", 200, r"/v2/_catalog")]),
}


def bench(*args, timeout=120):
    argv = [berth_binary(), "bench", "--output", "json", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    report = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, report, done.stderr


def berth_requests(server):
    text = requests.get(server.url("/metrics"), timeout=10).text
    counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "berth_http_requests_total":
                key = (sample.labels["method"], sample.labels["route"], int(sample.labels["status"]))
                counts[key] = counts.get(key, 0) + int(sample.value)
    return counts


def reference_requests(server, method, path, status):
    """Lines of docker-registry's access log (Apache combined format, on its log) for one kind of request."""
    line = re.compile(rf'"{method} {path} HTTP/1\.1" {status} ')
    return sum(1 for text in server.logs().splitlines() if line.search(text))


def wait_for_counts(read, wanted, seconds=15):
    """Until the server's books add up: Berth with several workers publishes the others' figures once a second."""
    deadline = time.monotonic() + seconds
    while True:
        counts = read()
        if counts == wanted or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


@pytest.fixture(params=["berth", "reference"])
def server(request, start_registry):
    return start_registry(request.param, label=request.param)


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_each_scenario_runs_its_load_and_the_server_counts_the_same_requests(server, case):
    arguments, expected = SCENARIOS[case]
    status, report, stderr = bench(*arguments, "--requests", str(LOAD), "--concurrency", "4", "--size", "64k",
                                   "--verify", "--seed", "17", server.base_url)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["name"] == arguments[0]
    assert scenario["operations"] == LOAD
    assert scenario["requests"] == LOAD * len(expected)
    assert scenario["errors"] == {} and scenario["error_count"] == 0
    assert scenario["seed_requests"] == (0 if case == "push-monolithic" else SEED_REQUESTS)
    latency = scenario["latency_us"]
    assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99.9"] <= latency["max"]
    assert scenario["requests_per_second"] > 0
    if case.startswith("blob-get"):
        per_request = 4096 if case.endswith("range") else 64 * 1024
        assert scenario["bytes_received"] == LOAD * per_request
    if case == "push-monolithic":
        assert scenario["bytes_sent"] == LOAD * 64 * 1024
    if server.kind == "berth":
        wanted = {(method, route, code): LOAD for method, route, code, _ in expected}
        counts = wait_for_counts(lambda: {key: berth_requests(server).get(key, 0) for key in wanted}, wanted)
        assert counts == wanted
    else:
        # (Seeding's POSTs and PUTs come only with the pull scenarios, whose load is GETs and HEADs.) The access
        # line is written once the handler has returned, which may be after the client has its last byte.
        wanted = {(method, path, code): LOAD for method, _, code, path in expected}
        counts = wait_for_counts(lambda: {key: reference_requests(server, *key) for key in wanted}, wanted)
        assert counts == wanted


def test_two_runs_with_the_same_seed_push_the_same_image_and_another_seed_another(start_registry):
    server = start_registry("berth")
    digests = []
    for seed in ("5", "5", "6"):
        status, _, stderr = bench("manifest-head", "--requests", "1", "--seed", seed, "--tag", f"s{seed}", server.base_url)
        assert status == 0, stderr
        r = requests.head(server.url(f"/v2/bench/manifests/s{seed}"),
                          headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        digests.append(r.headers["Docker-Content-Digest"])
    assert digests[0] == digests[1] != digests[2]


def test_a_duration_run_reports_text_by_default(start_registry):
    server = start_registry("berth")
    done = subprocess.run([berth_binary(), "bench", "manifest-get", "catalog", "--duration", "300ms", "--concurrency", "2",
                           server.base_url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^manifest-get .*concurrency 2$", done.stdout, re.M), done.stdout
    assert re.search(r"^catalog ", done.stdout, re.M), done.stdout
    assert done.stdout.count("errors: none") == 2
    assert re.search(r"latency µs: min [\d.]+  p50 [\d.]+  p90 [\d.]+  p99 [\d.]+  p99\.9 [\d.]+  max [\d.]+", done.stdout)


def test_csv_output_and_a_progress_line_only_on_a_terminal(start_registry):
    server = start_registry("berth")
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([berth_binary(), "bench", "manifest-head", "--duration", "1500ms", "--output", "csv", server.base_url],
                              stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=60)
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0
    header, line = done.stdout.splitlines()
    assert header.startswith("scenario,requests,operations,")
    fields = dict(zip(header.split(","), line.split(",")))
    assert fields["scenario"] == "manifest-head" and int(fields["requests"]) > 0 and fields["errors"] == ""
    assert re.search(rb"\r\x1b\[Kmanifest-head: \d+ requests in \d+ s, \d+ requests/s, 0 errors", shown), shown
    assert shown.endswith(b"\r\x1b[K"), shown
    # Not a terminal: no progress line.
    done = subprocess.run([berth_binary(), "bench", "manifest-head", "--duration", "1200ms", server.base_url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""


def test_a_missing_manifest_is_counted_as_errors_by_status(start_registry):
    server = start_registry("berth")
    status, report, _ = bench("manifest-get", "--no-seed", "--requests", "12", "--concurrency", "3", server.base_url)
    assert status == 1
    (scenario,) = report["scenarios"]
    assert scenario["errors"] == {"404": 12}
    assert scenario["operations"] == 0 and scenario["failed_operations"] == 12 and scenario["requests"] == 12


def test_nothing_listening_is_a_connect_error_not_a_hang():
    status, report, _ = bench("manifest-get", "--no-seed", "--requests", "5", "--concurrency", "2", f"http://127.0.0.1:{free_port()}")
    assert status == 1
    (scenario,) = report["scenarios"]
    assert scenario["requests"] == 0
    assert sum(v for k, v in scenario["errors"].items() if k.startswith("connect: ")) == 2


def test_a_server_that_never_answers_is_a_timeout_not_a_hang():
    with socket.socket() as silent:  # accepts (the kernel's backlog does), reads nothing, answers nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        status, report, _ = bench("manifest-get", "--no-seed", "--requests", "3", "--concurrency", "1", "--timeout", "300ms",
                                  f"http://127.0.0.1:{port}")
    assert status == 1
    (scenario,) = report["scenarios"]
    assert scenario["errors"] == {"timeout": 3}
    assert scenario["requests"] == 0 and scenario["failed_operations"] == 3


def test_usage_mistakes_exit_2(tmp_path):
    for argv, reason in ((["nonsense", "http://127.0.0.1:1"], "unknown scenario nonsense"),
                         (["--cacert", str(tmp_path / "missing.pem"), "https://127.0.0.1:1"], "cannot read it"),
                         (["--requests", "1", "--duration", "1s", "http://127.0.0.1:1"], "exclude each other")):
        done = subprocess.run([berth_binary(), "bench", *argv], capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, (argv, done.stderr)
        assert reason in done.stderr, done.stderr


@pytest.mark.parametrize("kind", ["berth", "reference"])
def test_basic_credentials_reach_a_registry_behind_htpasswd_and_a_wrong_password_is_401s(tmp_path, kind):
    users = tmp_path / "htpasswd"
    htpasswd(users, "alice", "wonderland", create=True)
    server = Server(tmp_path, registry2_config(tmp_path / "root", f"127.0.0.1:{free_port()}", users), kind=kind, label=kind)
    try:
        status, report, stderr = bench("manifest-get", "--requests", "20", "--concurrency", "2", "--user", "alice:wonderland", server.base)
        assert status == 0, stderr
        assert report["scenarios"][0]["operations"] == 20 and report["scenarios"][0]["errors"] == {}
        status, report, _ = bench("manifest-get", "--no-seed", "--requests", "5", "--user", "alice:wrong", server.base)
        assert status == 1 and report["scenarios"][0]["errors"] == {"401": 5}
        status, report, stderr = bench("manifest-get", "--requests", "5", server.base)
        assert status == 1 and report is None
        assert "manifest-get: seeding the registry failed: 401" in stderr, stderr
    finally:
        server.stop()


# A registry in 60 lines that keeps what is pushed and serves every blob with one byte flipped (manifests
# as pushed): a fast wrong answer that only `--verify` can catch.
CORRUPTING_PEER = r'''
import sys, http.server, itertools
store, counter = {}, itertools.count()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers: self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))
    def do_POST(self):
        self.body()
        self.answer(202, headers=[("Location", f"/uploads/{next(counter)}")])
    def do_PUT(self):
        data = self.body()
        path, _, query = self.path.partition("?")
        if path.startswith("/uploads/"):
            store["blob:" + query.split("digest=")[1]] = data
        else:
            store["manifest:" + path.rsplit("/", 1)[1]] = data
        self.answer(201)
    def do_GET(self):
        kind = "blob" if "/blobs/" in self.path else "manifest"
        data = store.get(kind + ":" + self.path.rsplit("/", 1)[1])
        if data is None: return self.answer(404)
        if kind == "blob":
            data = bytearray(data); data[len(data) // 2] ^= 0x01; data = bytes(data)
        self.answer(200, data)
    do_HEAD = do_GET
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
'''


@pytest.fixture
def corrupting_peer(tmp_path):
    script = tmp_path / "corrupting_peer.py"
    script.write_text(CORRUPTING_PEER)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_verify_counts_every_blob_with_a_wrong_byte_as_a_digest_error(corrupting_peer):
    status, report, _ = bench("blob-get", "--verify", "--requests", "20", "--concurrency", "2", "--size", "10k", corrupting_peer)
    assert status == 1
    (scenario,) = report["scenarios"]
    assert scenario["errors"] == {"digest": 20}
    assert scenario["operations"] == 0 and scenario["failed_operations"] == 20
    # The manifest comes back as pushed, so --verify passes it: the check is of the bytes, not of the peer.
    status, report, stderr = bench("manifest-get", "--verify", "--requests", "20", "--concurrency", "2", "--size", "10k", corrupting_peer)
    assert status == 0, stderr
    assert report["scenarios"][0]["errors"] == {}
    # Without --verify the wrong bytes go unnoticed: what the flag is for.
    status, report, _ = bench("blob-get", "--requests", "5", "--size", "10k", corrupting_peer)
    assert status == 0 and report["scenarios"][0]["errors"] == {}
