"""Berth's S3 client (issue 18, slice 1) against a real S3-compatible server: OpenStack Swift with its
s3api middleware on loopback (swiftstore.py).  `berth storage s3-check` drives every operation the S3
driver will use; Debian's docker-registry with its s3 driver on the same Swift proves the harness for the
next slice (the two reading each other's bucket).  `berth serve` still refuses storage.s3."""

import os
import subprocess

import pytest

from conftest import berth_binary, reference_binary
from imagebuild import Layout, copy_from_registry, copy_to_registry, read_layout
from processes import stop_process
from regutil import OCI_MANIFEST, free_port, wait_for
from swiftstore import SECRET_KEY, swift_s3, swift_store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.berth_only  # the test drives Berth's own command and Swift, not a registry fixture


def s3_config(path, swift, bucket, secret=SECRET_KEY, root="/berth-tests", extra=""):
    path.write_text(
        "version: 0.1\n"
        "storage:\n"
        "  s3:\n"
        f"    regionendpoint: {swift.endpoint}\n"
        f"    region: {swift.region}\n"
        f"    bucket: {bucket}\n"
        f"    accesskey: '{swift.access_key}'\n"
        f"    secretkey: '{secret}'\n"
        f"    rootdirectory: {root}\n"
        "    secure: false\n"
        "    v4auth: true\n"
        "    chunksize: 5242880\n" + extra)
    return path


def s3_check(config, *args):
    r = subprocess.run([berth_binary(), "storage", "s3-check", str(config), *args],
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def test_s3_check_passes_every_step_against_swift_and_leaves_nothing(swift_s3, tmp_path):
    swift, bucket = swift_s3.store, swift_s3.bucket
    status, output = s3_check(s3_config(tmp_path / "c.yml", swift, bucket))
    assert status == 0, output + swift.logs()
    for step in ("put", "head", "get", "range-get", "multipart", "multipart-get", "abort", "copy", "list", "delete"):
        assert f"ok     {step}:" in output, output
    assert "3 keys in 3 pages of 1" in output, output
    assert "s3-check passed" in output
    assert SECRET_KEY not in output
    assert swift.list_keys(bucket, "berth-tests/_berth_probe/") == []


def test_s3_check_with_unsigned_payloads(swift_s3, tmp_path):
    status, output = s3_check(s3_config(tmp_path / "c.yml", swift_s3.store, swift_s3.bucket), "--unsigned-payload",
                              "--multipart-size", str(5 * 1024 * 1024 + 7))
    assert status == 0, output
    assert "in 2 parts of 5242880" in output, output


def test_a_wrong_secret_fails_with_signature_does_not_match_and_never_prints_the_secret(swift_s3, tmp_path):
    wrong = "Wr0ng-s3cr3t-Qx7"
    status, output = s3_check(s3_config(tmp_path / "c.yml", swift_s3.store, swift_s3.bucket, secret=wrong))
    assert status == 1, output
    assert "FAILED put: SignatureDoesNotMatch" in output, output
    assert "ok     " not in output, output
    assert wrong not in output and SECRET_KEY not in output, output


def test_a_missing_bucket_fails_with_its_code(swift_store, tmp_path):
    status, output = s3_check(s3_config(tmp_path / "c.yml", swift_store, "no-such-bucket-berth"))
    assert status == 1, output
    assert "FAILED put: NoSuchBucket" in output, output


def test_an_unusable_s3_config_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("storage:\n  s3:\n    region: r\n    bucket: b\n    accesskey: a\n    secretkey: TOPSECRET\n"
                      "    v4auth: false\n")
    status, output = s3_check(config)
    assert status == 2, output
    assert "storage.s3.v4auth" in output and "TOPSECRET" not in output, output


def test_serve_refuses_storage_s3_until_the_driver_lands(swift_store, tmp_path):
    config = s3_config(tmp_path / "c.yml", swift_store, "images", extra=f"http: {{addr: 127.0.0.1:{free_port()}}}\n")
    r = subprocess.run([berth_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert f"{config}: storage.s3: Berth has no S3 storage driver yet" in r.stderr, r.stderr
    assert "berth storage s3-check" in r.stderr and SECRET_KEY not in r.stderr, r.stderr


def test_docker_registry_with_its_s3_driver_on_swift_accepts_a_skopeo_push(swift_s3, tmp_path):
    """registry:2's s3 driver on the same Swift: the harness the next slice's "read each other's bucket" needs."""
    swift, bucket = swift_s3.store, swift_s3.bucket
    port = free_port()
    config = s3_config(tmp_path / "registry.yml", swift, bucket, root="/registry",
                       extra="log: {level: info}\n"
                             f"http: {{addr: 127.0.0.1:{port}, secret: berth-s3-tests}}\n")
    log = open(tmp_path / "registry.log", "wb")
    # The AWS SDK in docker-registry panics on an AWS_CA_BUNDLE it cannot load into its transport; Swift
    # here is plain http on loopback, so no CA bundle is needed.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    proc = subprocess.Popen([reference_binary(), "serve", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            env=env)
    log.close()
    try:
        import requests

        def up():
            try:
                return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, "docker-registry on Swift to answer /v2/")

        class Target:
            host = f"127.0.0.1:{port}"
            hostport = host
            base_url = f"http://{host}"
        layout = Layout(tmp_path / "src")
        image = layout.add_image(nlayers=2)
        layout.tag("v1", OCI_MANIFEST, image["manifest"])
        copy_to_registry(f"oci:{layout.path}:v1", Target, "team/app:v1", tmp_path=tmp_path)
        back = tmp_path / "back"
        copy_from_registry(Target, "team/app:v1", f"oci:{back}:v1", tmp_path=tmp_path)
        manifest, _, blobs = read_layout(back, "v1")
        assert manifest == image["manifest"]
        assert blobs == layout.blobs
        keys = swift.list_keys(bucket, "registry/docker/registry/v2/")
        assert "registry/docker/registry/v2/repositories/team/app/_manifests/tags/v1/current/link" in keys, keys
        assert any(k.startswith("registry/docker/registry/v2/blobs/sha256/") and k.endswith("/data") for k in keys), keys
    finally:
        stop_process(proc)
