"""`berth bench mirror-cold`: rounds of N clients asking a pull-through mirror at once for a blob it has not
cached (each round's blob pushed to the upstream first), each client's time to first and last byte, and the
upstream's GETs of the blob read from the upstream's own books: a Berth upstream's /metrics, or an access log
given with --upstream-log. Against a Berth mirror in front of a Berth upstream, and against docker-registry as a
pull-through proxy (`proxy.remoteurl`) in front of docker-registry; the counts checked here against the servers'
own metrics and access logs. No figure of time is asserted on."""
import re

import pytest

from conftest import REFERENCE_HTTP_SECRET, Registry
from mirrorutil import metric, metric_samples, start_mirror, write_mirror_config
from test_bench_cli import bench, berth_requests, reference_requests, wait_for_counts

pytestmark = pytest.mark.berth_only  # the mirror under test is Berth's, or docker-registry's proxy mode beside it

CLIENTS = 6
ROUNDS = 2
SIZE = 3 << 20


class ProxyRegistry(Registry):
    """docker-registry as a pull-through cache of `remoteurl`."""

    def __init__(self, workdir, remoteurl, label="proxy"):
        super().__init__("reference", workdir, label=label)
        self.remoteurl = remoteurl

    def _write_config(self):
        with open(self.config_path, "w") as f:
            f.write(self._reference_config_head() + f"proxy:\n  remoteurl: {self.remoteurl}\n"
                    + f"http: {{addr: {self.host}, secret: {REFERENCE_HTTP_SECRET}}}\n")


def upstream_blob_pulls(upstream):
    return int(metric(metric_samples(upstream), "berth_blob_pulls_total"))


def check_clients(mirror):
    assert len(mirror["rounds"]) == ROUNDS
    digests = [r["digest"] for r in mirror["rounds"]]
    assert len(set(digests)) == ROUNDS and all(re.fullmatch(r"sha256:[0-9a-f]{64}", d) for d in digests)
    for r in mirror["rounds"]:
        assert len(r["first_byte_us"]) == len(r["last_byte_us"]) == CLIENTS
        assert all(0 < first <= last for first, last in zip(r["first_byte_us"], r["last_byte_us"])), r
    for figure in ("first_byte_us", "last_byte_us"):
        histogram = mirror[figure]
        assert 0 < histogram["min"] <= histogram["p50"] <= histogram["p99"] <= histogram["max"]
    return digests


def test_a_berth_mirror_in_front_of_berth_is_pulled_cold_and_the_upstream_metrics_say_one_fetch_a_round(start_registry, start_berth,
                                                                                                       tmp_path):
    upstream = start_registry("berth", label="upstream")
    mirror, _ = start_mirror(start_berth, tmp_path, write_mirror_config(tmp_path, remoteurl=upstream.base_url))
    status, report, stderr = bench("mirror-cold", "--upstream", upstream.base_url, "--rounds", str(ROUNDS), "--concurrency",
                                   str(CLIENTS), "--size", str(SIZE), "--verify", "--seed", "41", mirror.base_url, timeout=300)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["name"] == "mirror-cold" and scenario["errors"] == {}
    assert scenario["requests"] == scenario["operations"] == ROUNDS * CLIENTS
    assert scenario["bytes_received"] == ROUNDS * CLIENTS * SIZE
    assert scenario["seed_requests"] == 2 * ROUNDS  # POST + PUT of each round's blob, to the upstream
    mirror_figures = scenario["mirror"]
    check_clients(mirror_figures)
    assert mirror_figures["upstream_fetch_source"] == "metrics" and mirror_figures["upstream_fetch_note"] is None
    # The upstream's own count: Berth's mirror fetches each cold blob once however many clients ask.
    pulls = wait_for_counts(lambda: upstream_blob_pulls(upstream), ROUNDS)
    assert [r["upstream_fetches"] for r in mirror_figures["rounds"]] == [1] * ROUNDS
    assert mirror_figures["upstream_fetches"] == pulls == ROUNDS
    wanted = {("GET", "blob", 200): ROUNDS * CLIENTS}
    assert wait_for_counts(lambda: {key: berth_requests(mirror).get(key, 0) for key in wanted}, wanted) == wanted


def test_docker_registry_as_a_pull_through_proxy_is_pulled_cold_and_the_upstream_log_is_counted(start_registry, tmp_path):
    upstream = start_registry("reference", label="upstream")
    proxy = ProxyRegistry(tmp_path / "proxy", upstream.base_url)
    try:
        proxy.start()
        status, report, stderr = bench("mirror-cold", "--upstream", upstream.base_url, "--upstream-log", upstream.log_path,
                                       "--rounds", str(ROUNDS), "--concurrency", str(CLIENTS), "--size", str(SIZE), "--verify",
                                       "--seed", "42", proxy.base_url, timeout=300)
        assert status == 0, stderr
        (scenario,) = report["scenarios"]
        assert scenario["errors"] == {} and scenario["requests"] == ROUNDS * CLIENTS
        figures = scenario["mirror"]
        digests = check_clients(figures)
        assert figures["upstream_fetch_source"] == "log"
        # What the upstream's access log says, counted here on its own; docker-registry's proxy may fetch more than once.
        for digest, r in zip(digests, figures["rounds"]):
            key = ("GET", rf"/v2/bench/blobs/{digest}", 200)
            assert r["upstream_fetches"] == reference_requests(upstream, *key) >= 1
        proxied = {("GET", rf"/v2/bench/blobs/{d}", 200): CLIENTS for d in digests}
        assert wait_for_counts(lambda: {key: reference_requests(proxy, *key) for key in proxied}, proxied) == proxied
    finally:
        proxy.stop()


def test_without_a_log_a_non_berth_upstream_fetch_count_is_reported_unknown(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    mirror, _ = start_mirror(start_berth, tmp_path, write_mirror_config(tmp_path, remoteurl=upstream.base_url))
    status, report, stderr = bench("mirror-cold", "--upstream", upstream.base_url, "--rounds", "1", "--concurrency", "2",
                                   "--size", "64k", "--seed", "43", mirror.base_url)
    assert status == 0, stderr
    figures = report["scenarios"][0]["mirror"]
    assert figures["upstream_fetch_source"] == "none" and figures["upstream_fetches"] is None
    assert "--upstream-log" in figures["upstream_fetch_note"]
    assert figures["rounds"][0]["upstream_fetches"] is None


def test_mirror_cold_needs_an_upstream(start_registry):
    server = start_registry("berth")
    status, report, stderr = bench("mirror-cold", server.base_url)
    assert status == 2 and report is None and "--upstream" in stderr


def test_two_berth_mirrors_of_one_logged_upstream_are_compared_each_counted_apart(start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url)
    first, _ = start_mirror(start_berth, tmp_path, config, name="first")
    second, _ = start_mirror(start_berth, tmp_path, config, name="second")
    status, report, stderr = bench("mirror-cold", "--upstream", upstream.base_url, "--upstream-log", upstream.log_path, "--rounds",
                                   str(ROUNDS), "--concurrency", "4", "--size", "256k", "--seed", "44", "--compare", second.base_url,
                                   first.base_url)
    assert status == 0, stderr
    runs = [run["scenarios"][0]["mirror"] for run in report["runs"]]
    # The same blobs for both (the same seed), each mirror fetching each once: the upstream's log has two GETs of
    # each, and each run counts only its own.
    assert [r["digest"] for r in runs[0]["rounds"]] == [r["digest"] for r in runs[1]["rounds"]]
    assert [[r["upstream_fetches"] for r in run["rounds"]] for run in runs] == [[1] * ROUNDS, [1] * ROUNDS]
    for r in runs[0]["rounds"]:
        assert reference_requests(upstream, "GET", rf"/v2/bench/blobs/{r['digest']}", 200) == 2


def test_whole_images_are_pulled_cold_through_a_berth_mirror_and_each_blob_is_fetched_once(start_registry, start_berth, tmp_path):
    upstream = start_registry("berth", label="upstream")
    mirror, _ = start_mirror(start_berth, tmp_path, write_mirror_config(tmp_path, remoteurl=upstream.base_url))
    layers = 3
    status, report, stderr = bench("mirror-cold", "--image", "--layers", str(layers), "--layer-size", "512k", "--upstream",
                                   upstream.base_url, "--rounds", str(ROUNDS), "--concurrency", "4", "--verify", "--seed", "45",
                                   mirror.base_url, timeout=300)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["errors"] == {} and scenario["operations"] == ROUNDS * 4
    assert scenario["requests"] == ROUNDS * 4 * (2 + layers)  # the manifest, the config, the layers
    assert scenario["seed_requests"] == ROUNDS * (2 * (1 + layers) + 1)
    rounds = scenario["mirror"]["rounds"]
    assert all(len(r["first_byte_us"]) == 4 and all(0 < a <= b for a, b in zip(r["first_byte_us"], r["last_byte_us"])) for r in rounds)
    # Each round's config and layers fetched from the upstream once, by its own books.
    assert [r["upstream_fetches"] for r in rounds] == [1 + layers] * ROUNDS
    assert wait_for_counts(lambda: upstream_blob_pulls(upstream), ROUNDS * (1 + layers)) == ROUNDS * (1 + layers)
    wanted = {("GET", "manifest", 200): ROUNDS * 4, ("GET", "blob", 200): ROUNDS * 4 * (1 + layers)}
    assert wait_for_counts(lambda: {key: berth_requests(mirror).get(key, 0) for key in wanted}, wanted) == wanted
