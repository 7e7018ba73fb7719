"""`berth bench` push-chunked (PATCHes with Content-Range of --chunk-size), push-streamed (one PATCH without it)
and mount (POST ?mount=&from=, 201), against a Berth started here and docker-registry, each request counted
in the server's own books (Berth's /metrics, docker-registry's access log)."""
import pytest

# server: the fixture (Berth, then docker-registry).
from test_bench_cli import bench, berth_requests, reference_requests, server, wait_for_counts  # noqa: F401

LOAD = 20
UPLOAD = r"/v2/bench/blobs/uploads/[^ ?]+\?[^ ]*"
# (arguments, requests per operation, seed requests, the load's requests as (method, Berth's route, status, count per
# operation, docker-registry's path regex))
CASES = {
    "push-chunked": (["push-chunked", "--size", "64k", "--chunk-size", "20k"], 0,
                     [("POST", "uploads", 202, 1, r"/v2/bench/blobs/uploads/"), ("PATCH", "upload", 202, 4, UPLOAD),
                      ("PUT", "upload", 201, 1, r"/v2/bench/blobs/uploads/[^ ]*digest=sha256[^ ]*")]),
    "push-streamed": (["push-streamed", "--size", "64k"], 0,
                      [("POST", "uploads", 202, 1, r"/v2/bench/blobs/uploads/"), ("PATCH", "upload", 202, 1, UPLOAD),
                       ("PUT", "upload", 201, 1, r"/v2/bench/blobs/uploads/[^ ]*digest=sha256[^ ]*")]),
    "mount": (["mount", "--size", "64k"], 2,
              [("POST", "uploads", 201, 1, r"/v2/bench/blobs/uploads/\?mount=sha256:[0-9a-f]{64}&from=bench-source")]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_push_scenario_sends_what_the_server_counts(server, case):
    arguments, seed_requests, expected = CASES[case]
    status, report, stderr = bench(*arguments, "--requests", str(LOAD), "--concurrency", "4", "--seed", "23", server.base_url)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["name"] == case and scenario["errors"] == {} and scenario["operations"] == LOAD
    per_operation = sum(count for _, _, _, count, _ in expected)
    assert scenario["requests"] == LOAD * per_operation
    assert scenario["seed_requests"] == seed_requests
    assert scenario["bytes_sent"] == (0 if case == "mount" else LOAD * 64 * 1024)
    if server.kind == "berth":
        wanted = {(method, route, code): LOAD * count for method, route, code, count, _ in expected}
        counts = wait_for_counts(lambda: {key: berth_requests(server).get(key, 0) for key in wanted}, wanted)
    else:
        wanted = {(method, path, code): LOAD * count for method, _, code, count, path in expected}
        counts = wait_for_counts(lambda: {key: reference_requests(server, *key) for key in wanted}, wanted)
    assert counts == wanted
