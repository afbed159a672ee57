-- wrk script for checkouts: each request spends one prepared cart. WRK_CARTS_FILE holds one
-- "token expected_total" pair per line; thread n of t takes lines n, n + t, n + 2t, ... Each
-- request sends the cart's token as X-Cart-Token and as its Idempotency-Key, and the total the
-- shopper saw. Prints the same JSON summary as wrk_report.lua, plus how many carts were left.
local carts = {}
local counter = 0
local threads = {}
local id = 0
local stride = 1

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads - 1)
end

function init(args)
  stride = #threads > 0 and #threads or 1
  for line in io.lines(os.getenv("WRK_CARTS_FILE")) do
    local token, total = line:match("^(%S+) (%d+)$")
    if token then table.insert(carts, {token, total}) end
  end
end

function request()
  local index = (id or 0) + counter * stride + 1
  counter = counter + 1
  local cart = carts[((index - 1) % #carts) + 1]
  local body = '{"expectedTotal":' .. cart[2] ..
    ',"payment":{"provider":"test","testCard":"4242424242424242"}}'
  return wrk.format("POST", "/api/v1/checkout", {
    ["Content-Type"] = "application/json",
    ["X-Cart-Token"] = cart[1],
    ["Idempotency-Key"] = cart[1],
  }, body)
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
