"""A short soak (about a minute, bounded by time and operations): parallel skopeo pushes, pulls and deletes
beside HTTP clients, under online GC every 5 s with no delay, on $BERTH_WORKERS workers (2 by default). Every operation succeeds, no
worker is replaced, descriptors come back to their idle count, and `berth fsck` finds no damage afterwards
(Tests/soak/soak.py decides each; `make soak` runs it for ten minutes)."""
import os
import subprocess
import sys

SOAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak", "soak.py")


def test_a_minute_of_mixed_load_under_online_gc_leaves_no_damage(tmp_path):
    report = tmp_path / "soak.json"
    p = subprocess.run([sys.executable, SOAK, "--berth", os.environ["BERTH_BIN"], "--duration", "45",
                        "--max-ops", "20000", "--workers", os.environ.get("BERTH_WORKERS", "2"), "--gc-interval", "5s", "--gc-delay", "0s",
                        "--copies", "2", "--http-clients", "2", "--idle-wait", "90", "--report", str(report)],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr[-4000:]}"
