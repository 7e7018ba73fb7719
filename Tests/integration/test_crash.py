"""SIGKILL at chosen system calls and at random moments, then a restart on the same root: what got a 201 (or a
202's offset) is served byte-exact, what did not is absent or whole, never partial; an interrupted upload
resumes where it may stand or answers 404 BLOB_UPLOAD_UNKNOWN; referenced content survives a GC run killed
mid-sweep; a mirror's download killed at any step is pulled whole afterwards.

Chosen points attach strace to the one server process (`--workers 1`) and kill it on entering one call
(crashutil.KillPoint); random ones kill the supervisor and both workers (`--workers 2`). After every restart
the ledger of all earlier points is checked again, and the disk is scanned for debris. Each test asserts
that it reached every point it aimed at; the module asserts that the points add up to at least 30. The
`CRASH-` lines (pytest -s) list the points, what became of the uploads and the debris found.
"""

import os
import random

import pytest

from crashharness import Harness, berth_args
from crashpushes import delete_points, manifest_points, patch_points, put_points
from crashrandom import random_rounds
from crashsweeps import gc_points, mirror_points
from mirrorutil import wait_for_workers
from regutil import push_blob

pytestmark = pytest.mark.berth_only  # strace on Berth's own processes; the reference is not crash-tested here

MIN_POINTS = 30
TALLY = {}  # test name -> kill points reached


@pytest.fixture(scope="module", autouse=True)
def at_least_thirty_points(request):
    yield
    planned = {name for name in vars(request.module) if name.startswith("test_")}
    if planned <= set(TALLY):  # every test of the module ran to its end (not a selection of them)
        total = sum(TALLY.values())
        print(f"CRASH-TOTAL {total} kill points: {TALLY}")
        assert total >= MIN_POINTS, f"only {total} kill points reached: {TALLY}"


def harness_for(start_berth, tmp_path, name, extra="", workers=1):
    root, args, config = berth_args(tmp_path, name, extra, workers)
    return Harness(start_berth(*args), root, str(tmp_path)), config


def test_sigkill_at_chosen_calls_of_pushes_and_deletes_loses_nothing_acknowledged(request, start_berth, tmp_path):
    h, _ = harness_for(start_berth, tmp_path, "pushes")
    patch_points(h)
    put_points(h)
    manifest_points(h)
    delete_points(h)
    h.report("pushes")
    assert len(h.ledger.points) == 26, h.ledger.points
    # Both outcomes of an interrupted upload were met: resumed, and unknown (a commit cut after its move).
    assert h.outcomes["resumed"] >= 10 and h.outcomes["unknown"] >= 2, h.outcomes
    TALLY[request.node.originalname] = len(h.ledger.points)


def test_sigkill_during_gc_keeps_referenced_content(request, start_berth, tmp_path):
    h, config = harness_for(start_berth, tmp_path, "gc")
    gc_points(h, config, config.read_text())
    h.report("gc")
    assert len(h.ledger.points) == 4, h.ledger.points
    TALLY[request.node.originalname] = len(h.ledger.points)


def test_sigkill_during_a_mirror_download_then_the_pull_is_whole(request, start_registry, start_berth, tmp_path):
    upstream = start_registry("reference", label="upstream")
    blobs = {}
    for _ in range(5):
        data = os.urandom(6 << 20)
        blobs[push_blob(upstream.base_url, "mirror/big", data)] = data
    h, _ = harness_for(start_berth, tmp_path, "mirror", extra=f"proxy: {{remoteurl: '{upstream.base_url}'}}\n")
    mirror_points(h, upstream, blobs)
    h.report("mirror")
    assert len(h.ledger.points) == 5, h.ledger.points
    TALLY[request.node.originalname] = len(h.ledger.points)


def test_sigkill_of_all_processes_at_random_moments_under_concurrent_pushes(request, start_berth, tmp_path):
    h, _ = harness_for(start_berth, tmp_path, "random", workers=2)
    wait = lambda: wait_for_workers(h.reg, 2)  # noqa: E731
    wait()
    seed = int(os.environ.get("BERTH_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    acks = random_rounds(h, 8, seed, wait)
    h.report("random")
    assert len(h.ledger.points) == 8, h.ledger.points
    assert acks >= 3, f"only {acks} pushes acknowledged in 8 rounds: the clients hardly pushed"
    TALLY[request.node.originalname] = len(h.ledger.points)
