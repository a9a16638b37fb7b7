-- One request shape per wrk run, from the environment (bench/load.py sets it):
--   BENCH_AUTH  base64 of "AccountSid:AuthToken" (HTTP Basic, as Twilio's SDKs send it)
--   BENCH_BODY  form body; when set the request is a POST
--               application/x-www-form-urlencoded, else a GET of the URL
-- done() prints one "BENCH {json}" line the harness parses.
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_AUTH")
local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d,'
      .. ' "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
