-- wrk script: the method from BENCH_METHOD (GET by default); at the end one JSON line with
-- requests/s, bytes/s, latency percentiles in microseconds and error counts.
wrk.method = os.getenv("BENCH_METHOD") or "GET"

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"rps":%.1f,"bps":%.1f,"requests":%d,"p50":%d,"p99":%d,"errors":%d,"status_errors":%d}\n',
    summary.requests / seconds, summary.bytes / seconds, summary.requests,
    latency:percentile(50), latency:percentile(99), errors, summary.errors.status))
end
