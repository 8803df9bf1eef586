-- Replays prepared HTTP requests round-robin and prints a JSON summary line (BENCHJSON …).
-- BENCH_REQUESTS names a file of requests, one per line: METHOD<TAB>PATH<TAB>BEARER-TOKEN-or-"-"<TAB>BODY-or-"-"
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  requests, statuses, n = {}, {}, 0
  local file = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"))
  for line in file:lines() do
    local method, path, token, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    local headers = {}
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body == "-" then body = nil else headers["Content-Type"] = "application/json" end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  file:close()
  -- Each wrk thread starts at its own offset so threads do not send the same request at once.
  n = (id * 7919) % #requests
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests_)
  local merged = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_s": %.6f, "rps": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, ' ..
    '"p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, "socket_errors": %d, "timeouts": %d, "non_2xx": %d, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000, e.connect + e.read + e.write, e.timeout, e.status,
    table.concat(parts, ", ")))
end
