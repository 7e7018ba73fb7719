"""Operations endpoints: /healthz checks the storage, /metrics is Prometheus text that a real parser reads
and whose counters move with requests."""
import os
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from regutil import digest_of

pytestmark = pytest.mark.berth_only  # registry:2 serves these on a separate debug port, differently


@pytest.fixture(params=["1", "2"])
def registry(start_berth, request):
    """One worker, and two: with two, a scrape sums both (the other's figures at most a second old)."""
    berth = start_berth("--workers", request.param)
    yield berth
    berth.stop_cleanly()


def _samples(base):
    r = requests.get(base + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_healthz_answers_ok_when_storage_is_writable(registry):
    r = requests.get(registry.url("/healthz"))
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_metrics_parse_and_counters_move_with_requests(registry):
    base = registry.base_url
    before = _samples(base)
    body = os.urandom(50_000)
    digest = digest_of(body)
    assert requests.post(f"{base}/v2/m/blobs/uploads/?digest={digest}", data=body).status_code == 201
    for _ in range(3):
        assert requests.get(f"{base}/v2/m/blobs/{digest}").status_code == 200
    assert requests.get(f"{base}/v2/m/manifests/missing").status_code == 404

    def delta(after, name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    # Other workers publish once a second: wait for their figures, then check them all.
    deadline = time.monotonic() + 10
    while True:
        after = _samples(base)
        # Each request may have reached either worker, so every figure checked below is waited for.
        settled = (delta(after, "berth_blob_pulls_total") >= 3 and delta(after, "berth_blob_uploads_total") >= 1
                   and _value(after, "berth_http_requests_total", method="GET", route="manifest", status="404") >= 1
                   and _value(after, "berth_http_request_duration_seconds_count", route="blob") >= 3)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert delta(after, "berth_blob_uploads_total") == 1
    assert delta(after, "berth_blob_pulls_total") == 3
    assert delta(after, "berth_http_requests_total", method="GET", route="blob", status="200") == 3
    assert _value(after, "berth_http_requests_total", method="GET", route="manifest", status="404") >= 1
    assert delta(after, "berth_http_received_bytes_total") >= len(body)
    assert delta(after, "berth_http_sent_bytes_total") >= 3 * len(body)
    assert _value(after, "berth_http_request_duration_seconds_count", route="blob") >= 3
    assert _value(after, "berth_open_connections") >= 1
    assert ("berth_gc_runs_total", ()) in after
