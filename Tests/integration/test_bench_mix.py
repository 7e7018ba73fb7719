"""`berth bench mix`: operations of several scenarios drawn by weight (`--mix pull:3,push:1,delete:1`, the
draw a function of the seed), figures per component beside the totals; and `delete-manifest` (a manifest of its
own PUT by digest, then DELETEd). Against a Berth started here and docker-registry, each component's operations
counted in the server's own books."""
import pytest

# server: the fixture (Berth, then docker-registry).
from test_bench_cli import bench, berth_requests, reference_requests, server, wait_for_counts  # noqa: F401

LOAD = 60
MANIFEST_BY_DIGEST = r"/v2/bench/manifests/sha256:[0-9a-f]{64}"


def run_mix(server, seed="61"):
    status, report, stderr = bench("mix", "--mix", "pull:3,push:1,delete:1", "--requests", str(LOAD), "--concurrency", "3",
                                   "--size", "32k", "--verify", "--seed", seed, server.base_url)
    assert status == 0, stderr
    return report


def test_a_weighted_mix_reports_each_component_and_the_server_counts_each(server):
    report = run_mix(server)
    total, *parts = report["scenarios"]
    assert total["name"] == "mix" and total["errors"] == {} and total["operations"] == LOAD
    assert [p["name"] for p in parts] == ["mix/blob-get", "mix/push-monolithic", "mix/delete-manifest"]
    operations = {p["name"][4:]: p["operations"] for p in parts}
    assert sum(operations.values()) == LOAD and all(count > 0 for count in operations.values()), operations
    assert operations == {name: total[f"{name}_operations"] for name in operations}
    assert all(p["failed_operations"] == 0 and p["latency_us"]["min"] > 0 for p in parts)
    # Each pull one GET, each push POST + PUT, each delete PUT + DELETE.
    assert total["requests"] == operations["blob-get"] + 2 * operations["push-monolithic"] + 2 * operations["delete-manifest"]
    assert [p["requests"] for p in parts] == [operations["blob-get"], 2 * operations["push-monolithic"], 2 * operations["delete-manifest"]]
    pulls, pushes, deletes = operations["blob-get"], operations["push-monolithic"], operations["delete-manifest"]
    if server.kind == "berth":
        # The seeding (blob-get's and delete-manifest's, the same image twice): 4 blob uploads, 2 manifest PUTs.
        wanted = {("GET", "blob", 200): pulls, ("POST", "uploads", 202): pushes + 4, ("PUT", "manifest", 201): deletes + 2,
                  ("DELETE", "manifest", 202): deletes}
        counts = wait_for_counts(lambda: {key: berth_requests(server).get(key, 0) for key in wanted}, wanted)
    else:
        wanted = {("GET", r"/v2/bench/blobs/sha256:[0-9a-f]{64}", 200): pulls, ("POST", r"/v2/bench/blobs/uploads/", 202): pushes + 4,
                  ("PUT", MANIFEST_BY_DIGEST, 201): deletes, ("DELETE", MANIFEST_BY_DIGEST, 202): deletes}
        counts = wait_for_counts(lambda: {key: reference_requests(server, *key) for key in wanted}, wanted)
    assert counts == wanted


def test_the_same_seed_draws_the_same_mix_and_another_seed_another(start_registry):
    server = start_registry("berth")

    def draw(seed):
        return [p["operations"] for p in run_mix(server, seed)["scenarios"][1:]]

    first = draw("61")
    assert draw("61") == first
    assert any(draw(seed) != first for seed in ("62", "63", "64"))


def test_a_mix_of_unknown_names_or_bad_weights_is_a_usage_error(start_registry):
    server = start_registry("berth")
    for mix in ("pull:70,fly:30", "pull", "pull:0", "pull-image:1"):
        status, report, stderr = bench("mix", "--mix", mix, "--requests", "1", server.base_url)
        assert status == 2 and report is None and "--mix" in stderr, (mix, stderr)
