"""podman pulls an image from Berth and pushes it back under another name, as a user would."""
import json
import os
import subprocess
import tempfile

import pytest

from imagebuild import Layout, copy_to_registry, inspect_raw
from regutil import OCI_MANIFEST

PODMAN_TIMEOUT = 300


@pytest.fixture
def runroot():
    # podman refuses a runroot path longer than 50 characters; pytest's tmp_path is longer.
    with tempfile.TemporaryDirectory(prefix="berth-pm-", dir="/tmp") as path:
        yield path


def podman(tmp_path, runroot, *args):
    # Storage of its own, vfs: no overlay mounts or user namespaces needed, nothing shared with the host.
    argv = ["podman", "--root", str(tmp_path / "storage"), "--runroot", runroot,
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", *args]
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"), "CONTAINERS_REGISTRIES_CONF": str(tmp_path / "registries.conf")}
    (tmp_path / "registries.conf").write_text("unqualified-search-registries = []\n")
    if not (tmp_path / "auth.json").exists():
        (tmp_path / "auth.json").write_text('{"auths": {}}')
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=PODMAN_TIMEOUT)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_podman_pulls_and_pushes_back_an_image(registry, tmp_path, runroot):
    layout = Layout(tmp_path / "src")
    image = layout.add_image(nlayers=2)
    layout.tag("v1", OCI_MANIFEST, image["manifest"])
    copy_to_registry(f"oci:{layout.path}:v1", registry, "team/podman:v1", tmp_path=tmp_path)

    source = f"{registry.host}/team/podman:v1"
    podman(tmp_path, runroot, "pull", "--tls-verify=false", source)
    inspected = json.loads(podman(tmp_path, runroot, "image", "inspect", source))[0]
    diff_ids = json.loads(image["config"])["rootfs"]["diff_ids"]
    assert inspected["RootFS"]["Layers"] == diff_ids

    target = f"{registry.host}/team/podman-copy:v2"
    podman(tmp_path, runroot, "tag", source, target)
    podman(tmp_path, runroot, "push", "--tls-verify=false", target)
    pushed = json.loads(inspect_raw(registry, "team/podman-copy:v2", tmp_path=tmp_path))
    assert len(pushed["layers"]) == 2
    # podman may compress layers anew, but the image it pushes has the same filesystem.
    config = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--config", f"docker://{target}"],
                            capture_output=True, text=True, check=True, timeout=PODMAN_TIMEOUT).stdout
    assert json.loads(config)["rootfs"]["diff_ids"] == diff_ids
