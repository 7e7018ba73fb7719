"""`berth bench replay --trace FILE`: a trace's requests replayed at their recorded pace (or `--speed X`) against
synthetic content of the recorded sizes, pushed first; the JSON-lines shape and the IBM registry traces' shape
(FAST '18: a JSON array of `timestamp`, `http.request.method`, `http.request.uri`, `http.response.written`).
And `--svg FILE`: a latency-by-percentile and a throughput-over-time chart per scenario, plain SVG. Against a
Berth started here and docker-registry, the requests counted in the servers' own books."""
import json
import xml.etree.ElementTree as ElementTree

import pytest

# server: the fixture (Berth, then docker-registry).
from test_bench_cli import bench, berth_requests, reference_requests, server, wait_for_counts  # noqa: F401

BLOB = r"/v2/bench/blobs/sha256:[0-9a-f]{64}"


def trace_records():
    """12 manifest GETs, 12 blob GETs of 3 distinct blobs (the largest answer 48 KiB), 6 HEADs of them, 6 blob PUTs
    of 24 KiB, 4 DELETEs (skipped): 40 records over 2 s."""
    records = []
    for i in range(40):
        t = i * 0.05
        if i < 12:
            records.append({"timestamp": t, "method": "GET", "uri": "/v2/lib/app/manifests/v1", "size": 500})
        elif i < 24:
            records.append({"timestamp": t, "method": "GET", "uri": f"/v2/lib/app/blobs/sha256:{i % 3:064x}", "size": 16384 * (1 + i % 3)})
        elif i < 30:
            records.append({"timestamp": t, "method": "HEAD", "uri": f"/v2/lib/app/blobs/sha256:{i % 3:064x}", "size": 0})
        elif i < 36:
            records.append({"timestamp": t, "method": "PUT", "uri": "/v2/lib/app/blobs/uploads/u?digest=sha256:aa", "size": 24576})
        else:
            records.append({"timestamp": t, "method": "DELETE", "uri": "/v2/lib/app/manifests/sha256:bb", "size": 0})
    return records


def check_replay(server, scenario):
    assert scenario["name"] == "replay" and scenario["errors"] == {}
    assert (scenario["records"], scenario["replayed"], scenario["skipped"]) == (40, 36, 4)
    assert scenario["operations"] == 36 and scenario["requests"] == 30 + 2 * 6
    # Seeding: the image (2 blobs, a manifest) and the 3 blobs read, POST + PUT each.
    assert scenario["seed_requests"] == 5 + 6
    if server.kind == "berth":
        wanted = {("GET", "manifest", 200): 12, ("GET", "blob", 200): 12, ("HEAD", "blob", 200): 6,
                  ("POST", "uploads", 202): 6 + 5, ("PUT", "upload", 201): 6 + 5, ("DELETE", "manifest", 202): 0}
        return wait_for_counts(lambda: {key: berth_requests(server).get(key, 0) for key in wanted}, wanted) == wanted
    wanted = {("GET", r"/v2/bench/manifests/latest", 200): 12, ("GET", BLOB, 200): 12, ("HEAD", BLOB, 200): 6,
              ("POST", r"/v2/bench/blobs/uploads/", 202): 6 + 5, ("DELETE", r"/v2/[^ ]*", 202): 0}
    return wait_for_counts(lambda: {key: reference_requests(server, *key) for key in wanted}, wanted) == wanted


def test_a_json_lines_trace_is_replayed_against_content_of_its_sizes(server, tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(json.dumps(record) + "\n" for record in trace_records()))
    status, report, stderr = bench("replay", "--trace", str(trace), "--speed", "4", "--verify", "--concurrency", "4",
                                   "--seed", "71", server.base_url)
    assert status == 0, stderr
    (scenario,) = report["scenarios"]
    assert check_replay(server, scenario)
    # 12 GETs of blobs of 16, 32 and 48 KiB (4 each) and 12 manifests; HEADs carry no body.
    assert scenario["bytes_received"] > 4 * (16 + 32 + 48) * 1024
    assert scenario["bytes_sent"] == 6 * 24576


def test_an_ibm_registry_trace_is_replayed(server, tmp_path):
    def ibm(record):
        seconds = record["timestamp"]
        return {"host": "a1b2", "http.request.duration": 0.01, "http.request.method": record["method"],
                "http.request.uri": record["uri"].lstrip("/"), "http.response.status": 200,
                "http.response.written": record["size"], "timestamp": f"2017-06-20T07:00:{seconds:06.3f}Z"}
    trace = tmp_path / "ibm.json"
    trace.write_text(json.dumps([ibm(record) for record in reversed(trace_records())]))  # unsorted, as files may be
    status, report, stderr = bench("replay", "--trace", str(trace), "--speed", "4", "--concurrency", "4", "--seed", "72",
                                   server.base_url)
    assert status == 0, stderr
    assert check_replay(server, report["scenarios"][0])


def test_a_bad_trace_is_a_usage_error(tmp_path, start_registry):
    server = start_registry("berth")
    trace = tmp_path / "bad.jsonl"
    trace.write_text('{"timestamp": 1, "method": "GET"}\n')
    for arguments in (["--trace", str(trace)], [], ["--trace", str(tmp_path / "missing")]):
        status, report, stderr = bench("replay", *arguments, server.base_url)
        assert status == 2 and report is None and "--trace" in stderr, stderr


def test_svg_has_a_percentile_curve_and_a_throughput_line_per_scenario(start_registry, tmp_path):
    server = start_registry("berth")
    chart = tmp_path / "chart.svg"
    status, report, stderr = bench("manifest-get", "blob-get", "--duration", "1500ms", "--concurrency", "4", "--size", "16k",
                                   "--svg", str(chart), server.base_url)
    assert status == 0, stderr
    root = ElementTree.parse(chart).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for name in ("manifest-get", "blob-get"):
        assert f"{name}: latency by percentile" in texts and f"{name}: throughput" in texts
    assert {"p90", "p99", "p99.9"} <= set(texts)
    lines = [line.get("points").split() for line in root.iter("{http://www.w3.org/2000/svg}polyline")]
    # Per scenario its latency curve, then its throughput line with a point per 250 ms sample of the 1.5 s run.
    assert len(lines) == 4 and all(len(points) >= 4 for points in lines[0::2])
    assert all(len(points) >= 5 for points in lines[1::2])


def test_an_unwritable_svg_path_is_an_error(start_registry, tmp_path):
    server = start_registry("berth")
    status, _, stderr = bench("manifest-head", "--requests", "5", "--svg", str(tmp_path / "no" / "such" / "dir.svg"), server.base_url)
    assert status == 1 and "cannot write" in stderr
