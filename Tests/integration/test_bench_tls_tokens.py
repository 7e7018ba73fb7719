"""`berth bench` over TLS (`https://`, `--cacert`, `--insecure`, on BerthUpstream's TLS sessions) and through
the Bearer token flow (a 401's challenge answered by BerthUpstream's RegistryClient: one token request per scope,
neither counted nor timed as the scenario's), against a Berth started here and Debian's docker-registry, with the
requests counted in the servers' own books (Berth's /metrics, docker-registry's access log)."""
import os
import re
import signal
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import berth_binary, reference_binary
from mirrorutil import make_ca_and_server_cert
from regutil import free_port, wait_for
from test_bench_cli import bench, wait_for_counts
from test_builtin_issuer import issuer_config
# users, servers: fixtures.
from test_htpasswd import Server, users, users_template, servers  # noqa: F401

LOAD = 40
WORKERS = os.environ.get("BERTH_WORKERS", "1")


def counts_in_metrics(base, verify=True):
    counts = {}
    for family in text_string_to_metric_families(requests.get(base + "/metrics", verify=verify, timeout=10).text):
        for sample in family.samples:
            if sample.name == "berth_http_requests_total":
                key = (sample.labels["method"], sample.labels["route"], int(sample.labels["status"]))
                counts[key] = counts.get(key, 0) + int(sample.value)
    return counts


def counts_in_log(text, method, path, status):
    line = re.compile(rf'"{method} {path} HTTP/1\.1" {status} ')
    return sum(1 for entry in text.splitlines() if line.search(entry))


class TLSServer:
    """Berth or docker-registry on one registry:2 config with `http.tls`; stopped by PID."""

    def __init__(self, tmp_path, kind, certs):
        self.kind = kind
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{kind}.log"
        config = tmp_path / f"{kind}.yml"
        config.write_text(f"version: 0.1\nstorage:\n  filesystem: {{rootdirectory: {tmp_path / kind}}}\n"
                          f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: a-secret-for-the-test\n"
                          f"  tls:\n    certificate: {certs['cert']}\n    key: {certs['key']}\n")
        argv = [berth_binary(), "serve", "--config", str(config)] if kind == "berth" else [reference_binary(), "serve", str(config)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env={**os.environ, "BERTH_WORKERS": WORKERS})

        def ready():
            assert self.proc.poll() is None, self.logs()
            try:
                return requests.get(self.base + "/v2/", verify=certs["ca"], timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(ready, f"{kind} serving TLS\n{self.logs()}", timeout=30)

    def logs(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)


@pytest.fixture
def certs(tmp_path):
    return make_ca_and_server_cert(tmp_path / "certs")


@pytest.mark.parametrize("kind", ["berth", "reference"])
def test_over_https_with_cacert_each_load_is_what_the_server_counted(tmp_path, certs, kind):
    server = TLSServer(tmp_path, kind, certs)
    try:
        loads = {"manifest-get": [("GET", "manifest", 200, r"/v2/bench/manifests/latest")],
                 "push-monolithic": [("POST", "uploads", 202, r"/v2/bench/blobs/uploads/"),
                                     ("PUT", "upload", 201, r"/v2/bench/blobs/uploads/[^ ]*digest=sha256[^ ]*")]}
        for scenario, expected in loads.items():
            status, report, stderr = bench(scenario, "--requests", str(LOAD), "--concurrency", "4", "--size", "64k", "--verify",
                                           "--cacert", certs["ca"], server.base)
            assert status == 0, stderr
            (result,) = report["scenarios"]
            assert report["target"] == server.base + "/"
            assert result["operations"] == LOAD and result["errors"] == {}, result
            assert result["requests"] == LOAD * len(expected)
            assert result["challenges"] == 0 and result["token_fetches"] == 0
        # The POSTs and PUTs of manifest-get's seeding (its two blobs) come on top of the push load.
        seeded = {"POST": 2, "PUT": 2, "GET": 0}
        wanted = {(m, route, code): LOAD + seeded[m] for load in loads.values() for m, route, code, _ in load}
        if kind == "berth":
            counts = wait_for_counts(lambda: {k: counts_in_metrics(server.base, certs["ca"]).get(k, 0) for k in wanted}, wanted)
            assert counts == wanted
        else:
            wanted = {(m, path, code): LOAD + seeded[m] for load in loads.values() for m, _, code, path in load}
            counts = wait_for_counts(lambda: {k: counts_in_log(server.logs(), *k) for k in wanted}, wanted)
            assert counts == wanted
    finally:
        server.stop()


def test_https_without_the_ca_is_a_certificate_error_and_insecure_skips_the_check(tmp_path, certs):
    server = TLSServer(tmp_path, "berth", certs)
    try:
        status, report, _ = bench("manifest-get", "--no-seed", "--requests", "3", "--concurrency", "2", server.base)
        assert status == 1
        (result,) = report["scenarios"]
        assert result["requests"] == 0
        refused = {kind: n for kind, n in result["errors"].items() if kind.startswith("connect: TLS")}
        assert sum(refused.values()) == 2 and all("certificate" in kind for kind in refused), result["errors"]
        status, report, stderr = bench("manifest-head", "--requests", "10", "--concurrency", "2", "--insecure", server.base)
        assert status == 0, stderr
        assert report["scenarios"][0]["operations"] == 10
    finally:
        server.stop()


def issuer(tmp_path, users, servers, label="berth"):
    key = tmp_path / "keys" / "token.pem"
    server = Server(tmp_path, issuer_config(tmp_path / f"root-{label}", f"127.0.0.1:{free_port()}", users, key), label=label)
    server.key = key
    servers.append(server)
    return server


def test_a_bearer_registry_is_answered_with_one_token_per_scope_and_only_the_load_is_counted(tmp_path, users, servers):
    berth = issuer(tmp_path, users, servers)
    status, report, stderr = bench("manifest-get", "catalog", "push-monolithic", "--requests", str(LOAD), "--concurrency", "4",
                                   "--size", "16k", "--verify", "--user", "alice:wonderland", berth.base)
    assert status == 0, stderr
    manifest, catalog, push = report["scenarios"]
    for result in (manifest, catalog, push):
        assert result["operations"] == LOAD and result["errors"] == {}, result
    # The seeding's push scope, then the pull scope; the catalog's seeding has both cached; the catalog's
    # own scope; push-monolithic finds the push token cached. Every connection's first request may be challenged.
    assert [r["token_fetches"] for r in report["scenarios"]] == [2, 1, 0]
    assert 2 <= manifest["challenges"] <= 1 + 4 and 1 <= catalog["challenges"] <= 4 and push["challenges"] == 0
    assert manifest["requests"] == LOAD and catalog["requests"] == LOAD and push["requests"] == 2 * LOAD
    # Berth's own readiness wait (Server) saw one 401 on /v2/, and berth bench's ping another.
    wanted = {"token": 3, "challenged": manifest["challenges"] + catalog["challenges"] + 2, "manifest": LOAD, "catalog": LOAD,
              "upload": LOAD + 2 * 2}  # the load, and the two seedings' two blobs
    assert wait_for_counts(lambda: books(berth), wanted) == wanted


def books(server):
    """What Berth's /metrics says of a token run (with several workers, the others' figures come a second later)."""
    counts = counts_in_metrics(server.base)
    return {"token": sum(n for (method, route, code), n in counts.items() if method == "GET" and code == 200 and "token" in route),
            "challenged": sum(n for (_, _, code), n in counts.items() if code == 401),
            "manifest": counts.get(("GET", "manifest", 200), 0), "catalog": counts.get(("GET", "catalog", 200), 0),
            "upload": counts.get(("PUT", "upload", 201), 0)}


def test_a_wrong_password_is_a_token_error_once_not_a_token_request_per_operation(tmp_path, users, servers):
    berth = issuer(tmp_path, users, servers)
    status, report, _ = bench("manifest-get", "--no-seed", "--requests", "10", "--concurrency", "2", "--user", "alice:wrong", berth.base)
    assert status == 1
    (result,) = report["scenarios"]
    assert result["token_fetches"] == 1
    token_errors = {kind: n for kind, n in result["errors"].items() if kind.startswith("token: ")}
    assert sum(token_errors.values()) >= 1 and result["operations"] == 0, result["errors"]
    assert sum(token_errors.values()) + result["errors"].get("401", 0) == 10, result["errors"]


def test_docker_registry_behind_the_issuer_is_answered_with_its_tokens(tmp_path, users, servers):
    berth = issuer(tmp_path, users, servers)
    certificate = tmp_path / "token.crt"
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(berth.key), "-subj", "/CN=berth issuer", "-days", "2",
                    "-out", str(certificate)], check=True, capture_output=True, timeout=30)
    config = (f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'reference-root'}\n"
              f"http:\n  addr: 127.0.0.1:{free_port()}\n  secret: berth-integration-tests-fixed-secret\n"
              f"auth:\n  token:\n    realm: {berth.base}/auth/token\n    service: berth\n    issuer: berth\n"
              f"    rootcertbundle: {certificate}\n")
    reference = Server(tmp_path, config, kind="reference", label="reference")
    servers.append(reference)
    status, report, stderr = bench("manifest-head", "--requests", str(LOAD), "--concurrency", "4", "--user", "alice:wonderland",
                                   reference.base)
    assert status == 0, stderr
    (result,) = report["scenarios"]
    assert result["operations"] == LOAD and result["errors"] == {} and result["token_fetches"] == 2
    wanted = {("HEAD", r"/v2/bench/manifests/latest", 200): LOAD}
    assert wait_for_counts(lambda: {k: counts_in_log(reference.logs(), *k) for k in wanted}, wanted) == wanted
    assert wait_for_counts(lambda: books(berth)["token"], 2) == 2
