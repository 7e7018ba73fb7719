"""`berth bench pull-image`: the index by tag, the amd64 manifest by digest, its config, then the layers in parallel
over several connections, as containerd pulls; the image pushed first (the same bytes for the same --seed); timed
per request and per whole image. Against a Berth started here and docker-registry, the requests counted in the
server's own books."""
import pytest

# server: the fixture (Berth, then docker-registry).
from test_bench_cli import bench, berth_requests, reference_requests, server, wait_for_counts  # noqa: F401

IMAGES = 6
LAYERS = 4


def test_whole_images_are_pulled_index_manifest_config_and_layers_and_timed_per_image(server):
    status, report, stderr = bench("pull-image", "--requests", str(IMAGES), "--layers", str(LAYERS), "--layer-size", "96k",
                                   "--concurrency", "8", "--verify", "--seed", "31", server.base_url)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    per_image = 3 + LAYERS
    assert scenario["errors"] == {} and scenario["images"] == IMAGES and scenario["failed_images"] == 0, scenario
    assert scenario["requests"] == scenario["operations"] == IMAGES * per_image
    # Two configs and four layers (POST + PUT each), two manifests and the index.
    assert scenario["seed_requests"] == 2 * (2 + LAYERS) + 3
    assert scenario["bytes_received"] > IMAGES * LAYERS * 96 * 1024
    image, request = scenario["image_latency_us"], scenario["latency_us"]
    assert 0 < image["min"] <= image["p50"] <= image["max"]
    # An image takes at least its three requests in a row, each at least the fastest request.
    assert image["min"] >= 3 * request["min"]
    if server.kind == "berth":
        wanted = {("GET", "manifest", 200): 2 * IMAGES, ("GET", "blob", 200): (1 + LAYERS) * IMAGES}
        counts = wait_for_counts(lambda: {key: berth_requests(server).get(key, 0) for key in wanted}, wanted)
    else:
        wanted = {("GET", r"/v2/bench/manifests/latest", 200): IMAGES, ("GET", r"/v2/bench/manifests/sha256:[0-9a-f]{64}", 200): IMAGES,
                  ("GET", r"/v2/bench/blobs/sha256:[0-9a-f]{64}", 200): (1 + LAYERS) * IMAGES}
        counts = wait_for_counts(lambda: {key: reference_requests(server, *key) for key in wanted}, wanted)
    assert counts == wanted


def test_a_duration_run_counts_only_whole_images(server):
    status, report, stderr = bench("pull-image", "--duration", "1s", "--layers", "2", "--layer-size", "16k", "--concurrency", "4",
                                   server.base_url)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["images"] >= 1 and scenario["errors"] == {}
    # Images cut off by the end of the run leave their requests counted, not the image.
    assert scenario["requests"] >= scenario["images"] * 5
