"""`berth bench --compare URL2`: the same scenarios against Berth and docker-registry, side by side with ratios
(text, json, csv); each server's own books count its run's requests."""
import subprocess

import pytest

from conftest import berth_binary
from test_bench_cli import bench, berth_requests, reference_requests, wait_for_counts

LOAD = 30


def test_compare_runs_the_same_load_against_both_and_reports_b_over_a(start_registry):
    berth = start_registry("berth", label="berth")
    reference = start_registry("reference", label="reference")
    status, report, stderr = bench("manifest-get", "manifest-head", "--requests", str(LOAD), "--concurrency", "3", "--verify",
                                   "--compare", reference.base_url, berth.base_url)
    assert status == 0, stderr
    first, second = report["runs"]
    assert first["target"] == berth.base_url + "/" and second["target"] == reference.base_url + "/"
    for run in (first, second):
        assert [s["name"] for s in run["scenarios"]] == ["manifest-get", "manifest-head"]
        assert all(s["operations"] == LOAD and s["errors"] == {} for s in run["scenarios"])
    for ratio, a, b in zip(report["ratios"], first["scenarios"], second["scenarios"]):
        assert ratio["name"] == a["name"]
        assert ratio["requests_per_second"] == pytest.approx(b["requests_per_second"] / a["requests_per_second"], rel=1e-2)  # of rates rounded to 0.1
        assert ratio["errors"] is None
    wanted = {("GET", "manifest", 200): LOAD, ("HEAD", "manifest", 200): LOAD}
    assert wait_for_counts(lambda: {k: berth_requests(berth).get(k, 0) for k in wanted}, wanted) == wanted
    wanted = {(method, r"/v2/bench/manifests/latest", 200): LOAD for method in ("GET", "HEAD")}
    assert wait_for_counts(lambda: {k: reference_requests(reference, *k) for k in wanted}, wanted) == wanted


def test_compare_as_text_and_csv(start_registry):
    a = start_registry("berth", label="a")
    b = start_registry("berth", label="b")
    for output in ("text", "csv"):
        done = subprocess.run([berth_binary(), "bench", "manifest-head", "--requests", "10", "--output", output,
                               "--compare", b.base_url, a.base_url], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        if output == "text":
            assert f"manifest-head  A {a.base_url}/  B {b.base_url}/" in done.stdout, done.stdout
            assert "B/A" in done.stdout and "requests_per_second" in done.stdout
        else:
            header, *rows = done.stdout.splitlines()
            assert header.startswith("target,scenario,requests,")
            assert [row.split(",")[0] for row in rows] == ["A", "B", "B/A"]
            assert float(dict(zip(header.split(","), rows[2].split(",")))["requests_per_second"]) > 0


def test_compare_of_whole_image_pulls_has_the_image_figures_side_by_side(start_registry):
    berth = start_registry("berth", label="berth")
    reference = start_registry("reference", label="reference")
    status, report, stderr = bench("pull-image", "--requests", "4", "--layers", "2", "--layer-size", "16k", "--concurrency", "4",
                                   "--compare", reference.base_url, berth.base_url)
    assert status == 0, stderr
    assert [run["scenarios"][0]["images"] for run in report["runs"]] == [4, 4]
    (ratio,) = report["ratios"]
    a, b = (run["scenarios"][0]["image_latency_us"]["p50"] for run in report["runs"])
    assert ratio["image_p50_us"] == pytest.approx(b / a, rel=1e-2)
    assert ratio["images_per_second"] > 0
