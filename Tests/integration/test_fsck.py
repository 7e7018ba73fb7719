"""`berth fsck`: a clean push leaves nothing to report; each kind of damage made by hand on disk is found with
its kind, `--repair` puts it right (a corrupt blob is moved to berth-quarantine/, never served), a second check is
clean, and every intact image is still served. fsck runs here while Berth serves the root, as it may in production."""
import json
import os
import subprocess
import time

import pytest
import requests

from imagebuild import Layout, copy_from_registry, copy_to_registry, read_layout
from regutil import OCI_MANIFEST, TIMEOUT, digest_of, location, push_blob, random_bytes, start_upload

TWO_HOURS_AGO = time.time() - 2 * 3600


def fsck(root, *args):
    """(exit status, parsed --json output) of `berth fsck --root ROOT --json ARGS`."""
    p = subprocess.run([os.environ["BERTH_BIN"], "fsck", "--root", str(root), "--json", *args],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode in (0, 1), f"fsck exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p.returncode, json.loads(p.stdout)


def kinds(report):
    return sorted(f["kind"] for f in report["findings"])


def v2(root, *parts):
    return os.path.join(str(root), "docker/registry/v2", *parts)


def blob_data(root, digest):
    hexdigest = digest.split(":", 1)[1]
    return v2(root, "blobs/sha256", hexdigest[:2], hexdigest, "data")


class Image:
    """An OCI layout with one image of two layers, pushed with skopeo to `repo:v1`."""

    def __init__(self, tmp_path, name):
        self.layout = Layout(tmp_path / f"src-{name.replace('/', '-')}")
        self.image = self.layout.add_image(nlayers=2)
        self.layout.tag("v1", OCI_MANIFEST, self.image["manifest"])
        self.repo = name
        self.tmp_path = tmp_path

    @property
    def layers(self):
        return [digest_of(layer) for layer in self.image["layers"]]

    def push(self, registry):
        copy_to_registry(f"oci:{self.layout.path}:v1", registry, f"{self.repo}:v1", tmp_path=self.tmp_path)
        return self

    def assert_served(self, registry):
        dest = self.tmp_path / f"pull-{self.repo.replace('/', '-')}-{time.monotonic_ns()}"
        copy_from_registry(registry, f"{self.repo}:v1", f"oci:{dest}:v1", tmp_path=self.tmp_path)
        manifest, _, blobs = read_layout(dest, "v1")
        assert manifest == self.image["manifest"]
        for layer in self.image["layers"]:
            assert blobs[digest_of(layer)] == layer


@pytest.fixture
def pushed(start_berth, tmp_path):
    """A running Berth with two images pushed by skopeo: `damaged/app` (the one each test harms) and `intact/app`."""
    root = tmp_path / "root"
    berth = start_berth(root=root)
    damaged = Image(tmp_path, "damaged/app").push(berth)
    intact = Image(tmp_path, "intact/app").push(berth)
    return berth, root, damaged, intact


def repair_and_recheck(berth, root, intact, expected):
    """fsck finds exactly `expected` kinds (exit 1), --repair repairs every one (exit 0), the next check is clean."""
    status, report = fsck(root)
    assert (status, kinds(report)) == (1, sorted(expected)), report
    status, repaired = fsck(root, "--repair")
    assert status == 0, repaired
    assert kinds(repaired) == sorted(expected) and all(f["repaired"] for f in repaired["findings"]), repaired
    status, again = fsck(root)
    assert (status, again["findings"]) == (0, []), again
    intact.assert_served(berth)
    return report


def test_a_clean_push_and_pull_leave_nothing_to_report(pushed):
    berth, root, damaged, intact = pushed
    damaged.assert_served(berth)
    for args in ((), ("--quick",), ("--repair",)):
        status, report = fsck(root, *args)
        assert (status, report["findings"]) == (0, []), (args, report)
    assert report["repositories"] == 2 and report["manifests"] == 2 and report["blobs"] == 8, report
    # Without --quick every blob is hashed: two manifests, two configs, four layers.
    assert fsck(root)[1]["blobsHashed"] == 8
    text = subprocess.run([os.environ["BERTH_BIN"], "fsck", "--root", str(root)], capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "0 findings" in text.stdout, text


def test_a_flipped_byte_is_a_corrupt_blob_moved_to_quarantine_and_never_served(pushed):
    berth, root, damaged, intact = pushed
    layer = damaged.layers[0]
    with open(blob_data(root, layer), "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))

    status, report = fsck(root)
    assert (status, kinds(report)) == (1, ["corrupt-blob"]), report
    finding = report["findings"][0]
    assert finding["damage"] and finding["path"] == os.path.relpath(blob_data(root, layer), v2(root)), finding
    assert "berth-quarantine" in finding["repair"], finding
    status, repaired = fsck(root, "--repair")
    assert status == 0 and repaired["findings"][0]["repaired"], repaired

    quarantined = os.listdir(v2(root, "berth-quarantine"))
    assert len(quarantined) == 1 and layer.split(":")[1] in quarantined[0], quarantined
    assert not os.path.exists(blob_data(root, layer))
    r = requests.get(f"{berth.base_url}/v2/{damaged.repo}/blobs/{layer}", timeout=TIMEOUT)
    assert r.status_code == 404, "a corrupt blob is never served under its digest"
    # The image that needs it is damaged until pushed again; fsck says so and has no repair for it.
    status, report = fsck(root, "--repair")
    assert (status, kinds(report)) == (1, ["missing-reference"]) and layer in report["findings"][0]["detail"], report
    intact.assert_served(berth)
    damaged.push(berth)
    status, report = fsck(root)
    assert (status, report["findings"]) == (0, []), report
    damaged.assert_served(berth)


def test_a_blob_whose_data_is_gone_leaves_a_dangling_link_and_a_missing_reference(pushed):
    berth, root, damaged, intact = pushed
    layer = damaged.layers[1]
    os.unlink(blob_data(root, layer))
    status, report = fsck(root)
    assert (status, kinds(report)) == (1, ["dangling-link", "missing-reference"]), report
    status, report = fsck(root, "--repair")
    assert status == 1, report
    assert sorted((f["kind"], f["repaired"]) for f in report["findings"]) == [("dangling-link", True), ("missing-reference", False)]
    assert not os.path.exists(v2(root, "repositories", damaged.repo, "_layers/sha256", layer.split(":")[1], "link"))
    intact.assert_served(berth)
    damaged.push(berth)  # the link gone, skopeo finds the blob missing and uploads it again
    status, report = fsck(root)
    assert (status, report["findings"]) == (0, []), report
    damaged.assert_served(berth)


def test_an_old_temporary_file_is_removed_and_a_fresh_one_is_left(pushed):
    berth, root, damaged, intact = pushed
    old = v2(root, "repositories", damaged.repo, "_manifests/tags/.tmp-0d3c2a6e-old")
    fresh = v2(root, "repositories", damaged.repo, "_manifests/tags/.tmp-0d3c2a6e-fresh")
    for path in (old, fresh):
        with open(path, "wb") as f:
            f.write(b"sha256:")
    os.utime(old, (TWO_HOURS_AGO, TWO_HOURS_AGO))
    report = repair_and_recheck(berth, root, intact, ["stale-temporary"])
    assert report["findings"][0]["path"].endswith(".tmp-0d3c2a6e-old")
    assert not os.path.exists(old) and os.path.exists(fresh)
    damaged.assert_served(berth)


def test_an_upload_older_than_maxage_is_removed(pushed):
    berth, root, damaged, intact = pushed
    stale = location(start_upload(berth.base_url, damaged.repo)).rstrip("/").rsplit("/", 1)[1].split("?")[0]
    live = location(start_upload(berth.base_url, damaged.repo)).rstrip("/").rsplit("/", 1)[1].split("?")[0]
    with open(v2(root, "repositories", damaged.repo, "_uploads", stale, "startedat"), "w") as f:
        f.write("2020-01-01T00:00:00Z")
    report = repair_and_recheck(berth, root, intact, ["stale-upload"])
    assert stale in report["findings"][0]["path"]
    assert not os.path.exists(v2(root, "repositories", damaged.repo, "_uploads", stale))
    assert os.path.isdir(v2(root, "repositories", damaged.repo, "_uploads", live))
    damaged.assert_served(berth)


def test_a_revision_link_and_a_tag_to_a_missing_blob_are_removed(pushed):
    berth, root, damaged, intact = pushed
    ghost = digest_of(b"a manifest that was never stored")
    revision = v2(root, "repositories", damaged.repo, "_manifests/revisions/sha256", ghost.split(":")[1], "link")
    tag = v2(root, "repositories", damaged.repo, "_manifests/tags/ghost/current/link")
    for path in (revision, tag):
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write(ghost)
    repair_and_recheck(berth, root, intact, ["dangling-manifest", "dangling-tag"])
    assert not os.path.exists(revision) and not os.path.exists(tag)
    tags = requests.get(f"{berth.base_url}/v2/{damaged.repo}/tags/list", timeout=TIMEOUT).json()["tags"]
    assert tags == ["v1"]
    damaged.assert_served(berth)


def test_an_old_unreferenced_blob_is_removed_with_its_link_and_a_bad_link_too(pushed):
    berth, root, damaged, intact = pushed
    orphan = push_blob(berth.base_url, damaged.repo, random_bytes(10_000))
    young = push_blob(berth.base_url, damaged.repo, random_bytes(10_000))  # may belong to a push in flight
    link = v2(root, "repositories", damaged.repo, "_layers/sha256", orphan.split(":")[1], "link")
    for path in (blob_data(root, orphan), link):
        os.utime(path, (TWO_HOURS_AGO, TWO_HOURS_AGO))
    bad = v2(root, "repositories", damaged.repo, "_layers/sha256", "ab" * 32, "link")
    os.makedirs(os.path.dirname(bad))
    with open(bad, "w") as f:
        f.write("not a digest")
    report = repair_and_recheck(berth, root, intact, ["bad-link", "unreferenced-blob"])
    unreferenced = [f for f in report["findings"] if f["kind"] == "unreferenced-blob"][0]
    assert unreferenced["path"] == os.path.relpath(blob_data(root, orphan), v2(root)) and not unreferenced["damage"]
    assert not os.path.exists(blob_data(root, orphan)) and not os.path.exists(link) and not os.path.exists(bad)
    assert os.path.exists(blob_data(root, young))
    damaged.assert_served(berth)


def test_usage_and_configuration_errors_exit_2(tmp_path):
    binary = os.environ["BERTH_BIN"]
    for argv in (["fsck", "--no-such-flag", "--root", str(tmp_path)], ["fsck", "--root", str(tmp_path / "missing")]):
        p = subprocess.run([binary, *argv], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, (argv, p.returncode, p.stderr)
    assert not os.path.exists(tmp_path / "missing"), "a check creates nothing"
    help_text = subprocess.run([binary, "fsck", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "Exit status: 0" in help_text and "berth-quarantine" in help_text
