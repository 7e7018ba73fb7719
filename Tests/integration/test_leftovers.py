"""Storage is given back: abandoned uploads go after uploads.maxage wherever they were started (a repository
that never received a manifest, Kraken's namespaces), temporary files of killed writers go once stale, and a
supervisor's metrics directory goes at its exit, or at the next start when it was killed."""
import os
import signal
import subprocess
import time

import pytest
import requests

from regutil import digest_of, location, wait_for

pytestmark = pytest.mark.berth_only  # Berth's own maintenance (registry:2 purges uploads on its own schedule)

V2 = "docker/registry/v2"


def test_uploads_without_a_manifest_in_their_repository_and_kraken_uploads_are_purged(start_berth):
    berth = start_berth(env={"BERTH_GC_INTERVAL": "1s", "BERTH_UPLOADS_MAXAGE": "2s"})
    base = berth.base_url
    r = requests.post(f"{base}/v2/never/pushed/blobs/uploads/")
    assert r.status_code == 202
    registry_upload = location(r)
    assert requests.patch(registry_upload, data=os.urandom(10_000)).status_code == 202
    digest = digest_of(b"a model that never finishes")
    r = requests.post(f"{base}/namespace/models/blobs/{digest}/uploads")
    assert r.status_code == 200, r.text
    kraken_id = r.headers["Location"]
    assert requests.patch(f"{base}/namespace/models/blobs/{digest}/uploads/{kraken_id}", data=b"a model",
                          headers={"Content-Range": "0-7"}).status_code == 200
    kraken_upload = os.path.join(berth.root, V2, "kraken/namespaces/models/_uploads", kraken_id)
    assert os.path.isdir(kraken_upload)
    wait_for(lambda: requests.get(registry_upload).status_code == 404, "the registry upload was purged")
    wait_for(lambda: not os.path.exists(kraken_upload), "the Kraken upload was purged")
    wait_for(lambda: not os.path.exists(os.path.join(berth.root, V2, "repositories/never")),
             "the repository left empty was removed")
    berth.stop_cleanly()


def stale_temporaries(root):
    """Temporary files as a writer killed between create and rename leaves them: two stale, one fresh."""
    places = [os.path.join(root, V2), os.path.join(root, V2, "blobs/sha256/0b")]
    stale = []
    for place in places:
        os.makedirs(place, exist_ok=True)
        path = os.path.join(place, ".tmp-0b7c6a51-7f3e-4d1c-9a55-3f1e2d4c5b6a")
        with open(path, "wb") as f:
            f.write(b"half a link")
        two_hours_ago = time.time() - 7200
        os.utime(path, (two_hours_ago, two_hours_ago))
        stale.append(path)
    fresh = os.path.join(root, V2, ".tmp-5d0f1e2a-0c4b-4e8f-8a1d-6b7c8d9e0f12")
    with open(fresh, "wb") as f:
        f.write(b"being written")
    return stale, fresh


def test_stale_temporary_files_are_removed_at_start_and_by_gc(start_berth, tmp_path):
    root = tmp_path / "root"
    stale, fresh = stale_temporaries(str(root))
    berth = start_berth(root=root)
    wait_for(lambda: not any(os.path.exists(path) for path in stale), "a start removed the stale temporary files")
    assert os.path.exists(fresh), "a temporary file a live process may be writing was removed"
    berth.stop_cleanly()

    stale, fresh = stale_temporaries(str(root))
    output = subprocess.run([os.environ["BERTH_BIN"], "garbage-collect", "--root", str(root)],
                            check=True, capture_output=True, text=True, timeout=120).stdout
    assert not any(os.path.exists(path) for path in stale)
    assert output.count("stale temporary file removed") == 2
    assert os.path.exists(fresh)


def metrics_directory(pid):
    shared = "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"
    return os.path.join(shared, f"berth-{pid}")


def test_a_killed_supervisors_metrics_directory_goes_at_the_next_start_and_a_clean_exit_removes_its_own(start_berth):
    berth = start_berth("--workers", "2")
    killed = metrics_directory(berth.pid)
    wait_for(lambda: os.path.isdir(killed), "the supervisor made its metrics directory")
    berth.kill()
    assert os.path.isdir(killed), "SIGKILL leaves the directory behind"
    berth.start()
    wait_for(lambda: not os.path.exists(killed), "the next start removed the killed supervisor's directory")
    own = metrics_directory(berth.pid)
    assert os.path.isdir(own)
    berth.proc.send_signal(signal.SIGTERM)
    assert berth.proc.wait(timeout=30) == 0
    assert not os.path.exists(own)
