"""`berth bench push-image`: whole images pushed as skopeo pushes them (a HEAD of each layer and of the config,
an upload of each blob the registry lacks: streamed POST + PATCH + PUT, monolithic POST + PUT, or chunked PATCHes
of --chunk-size; then the manifest PUT), against a Berth started here and docker-registry, every request counted
in the server's own books; a second run of the same seed finds the blobs and only HEADs them."""
import pytest

# server: the fixture (Berth, then docker-registry).
from test_bench_cli import bench, berth_requests, reference_requests, server, wait_for_counts  # noqa: F401

IMAGES = 6
LAYERS = 3
BLOBS = LAYERS + 1  # and the config
UPLOAD = r"/v2/bench/blobs/uploads/[^ ?]+\?[^ ]*"
BLOB = r"/v2/bench/blobs/sha256:[0-9a-f]{64}"
# (--upload arguments, PATCHes per layer): a layer is 96 KiB, the config one PATCH.
UPLOADS = {"streamed": ([], 1), "monolithic": ([], 0), "chunked": (["--chunk-size", "40k"], 3)}


def expected_requests(layer_patches, config_patches, present=False):
    """(method, Berth's route, status, docker-registry's path regex) -> count for IMAGES images."""
    if present:
        return {("HEAD", "blob", 200, BLOB): IMAGES * BLOBS, ("PUT", "manifest", 201, r"/v2/bench/manifests/latest-push"): IMAGES}
    patches = IMAGES * (LAYERS * layer_patches + config_patches)
    wanted = {("HEAD", "blob", 404, BLOB): IMAGES * BLOBS, ("POST", "uploads", 202, r"/v2/bench/blobs/uploads/"): IMAGES * BLOBS,
              ("PUT", "upload", 201, r"/v2/bench/blobs/uploads/[^ ]*digest=sha256[^ ]*"): IMAGES * BLOBS,
              ("PUT", "manifest", 201, r"/v2/bench/manifests/latest-push"): IMAGES}
    if patches:
        wanted[("PATCH", "upload", 202, UPLOAD)] = patches
    return wanted


def server_counts(server, wanted):
    if server.kind == "berth":
        keys = {key: key[:3] for key in wanted}
        return wait_for_counts(lambda: {key: berth_requests(server).get(route, 0) for key, route in keys.items()}, wanted)
    return wait_for_counts(lambda: {key: reference_requests(server, key[0], key[3], key[2]) for key in wanted}, wanted)


@pytest.mark.parametrize("upload", list(UPLOADS))
def test_whole_images_are_pushed_head_upload_manifest_and_the_server_counts_them(server, upload):
    extra, layer_patches = UPLOADS[upload]
    status, report, stderr = bench("push-image", "--upload", upload, *extra, "--layers", str(LAYERS), "--layer-size", "96k",
                                   "--requests", str(IMAGES), "--concurrency", "2", "--seed", "51", server.base_url)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["name"] == "push-image" and scenario["errors"] == {} and scenario["operations"] == IMAGES
    assert scenario["blobs_uploaded"] == IMAGES * BLOBS and scenario["blobs_present"] == 0
    wanted = expected_requests(layer_patches, 0 if upload == "monolithic" else 1)
    assert scenario["requests"] == sum(wanted.values())
    assert scenario["bytes_sent"] > IMAGES * LAYERS * 96 * 1024
    assert server_counts(server, wanted) == wanted


def test_a_second_push_of_the_same_images_only_heads_the_blobs(server):
    arguments = ("push-image", "--layers", str(LAYERS), "--layer-size", "32k", "--requests", str(IMAGES), "--concurrency", "2",
                 "--seed", "52", server.base_url)
    assert bench(*arguments)[0] == 0
    status, report, stderr = bench(*arguments)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert scenario["blobs_uploaded"] == 0 and scenario["blobs_present"] == IMAGES * BLOBS
    assert scenario["requests"] == IMAGES * (BLOBS + 1)
    wanted = expected_requests(0, 0, present=True)
    wanted[("PUT", "manifest", 201, r"/v2/bench/manifests/latest-push")] *= 2  # both runs' manifests
    assert server_counts(server, wanted) == wanted
