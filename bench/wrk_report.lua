-- wrk script: spreads requests over several paths (one per line of the file WRK_PATHS_FILE, in
-- turn) and prints one JSON line of results at the end, with the percentiles wrk's own summary
-- does not show.
local paths = {}
local counter = 0

function init(args)
  for path in io.lines(os.getenv("WRK_PATHS_FILE")) do
    table.insert(paths, path)
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
