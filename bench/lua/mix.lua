-- Replays the realistic mix written by bench/b7_mix.py and prints a JSON summary line (BENCHJSON …) with the
-- requests and errors of each kind. BENCH_REQUESTS names the file, one request per line:
-- KIND<TAB>METHOD<TAB>PATH<TAB>BEARER-TOKEN-or-"-"<TAB>BODY-or-"-".
-- Every answer outside 2xx is an error of its kind. An intake (POST with a body) carries a fresh Idempotency-Key
-- each time, as the app sends one: BENCH_RUN_ID, the thread and a counter.
-- Run it with as many wrk threads as connections: a thread then has one request in flight, so the answer
-- response() sees is the one to the thread's last request() (with fewer threads the kinds are approximate).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  requests, kinds, counts, errors, statuses, n, sent, last = {}, {}, {}, {}, {}, 0, 0, nil
  -- The start second too: runs sharing a BENCH_RUN_ID (the warm-up's) still never repeat a key.
  run_id = (os.getenv("BENCH_RUN_ID") or "run") .. "-" .. os.time()
  local file = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"))
  for line in file:lines() do
    local kind, method, path, token, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    local headers = {}
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body == "-" then
      table.insert(requests, wrk.format(method, path, headers, nil))
    else
      headers["Content-Type"] = "application/json"
      -- Formatted at request time, with its own key.
      table.insert(requests, {method = method, path = path, headers = headers, body = body})
    end
    table.insert(kinds, kind)
  end
  file:close()
  -- Each wrk thread starts at its own offset so threads do not send the same request at once.
  n = (id * 7919) % #requests
end

function request()
  n = n % #requests + 1
  last = kinds[n]
  local r = requests[n]
  if type(r) == "string" then return r end
  sent = sent + 1
  r.headers["Idempotency-Key"] = string.format("%s-%d-%d", run_id, id, sent)
  return wrk.format(r.method, r.path, r.headers, r.body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if last then
    counts[last] = (counts[last] or 0) + 1
    if status < 200 or status > 299 then errors[last] = (errors[last] or 0) + 1 end
  end
end

local function merged(name)
  local out = {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get(name)) do out[k] = (out[k] or 0) + v end
  end
  return out
end

function done(summary, latency, requests_)
  local all_statuses, all_counts, all_errors = merged("statuses"), merged("counts"), merged("errors")
  local parts, by_kind = {}, {}
  for k, v in pairs(all_statuses) do table.insert(parts, string.format('"%s": %d', k, v)) end
  for k, v in pairs(all_counts) do
    table.insert(by_kind, string.format('"%s": {"requests": %d, "errors": %d}', k, v, all_errors[k] or 0))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_s": %.6f, "rps": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, ' ..
    '"p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, "socket_errors": %d, "timeouts": %d, "non_2xx": %d, ' ..
    '"statuses": {%s}, "by_kind": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000, e.connect + e.read + e.write, e.timeout, e.status,
    table.concat(parts, ", "), table.concat(by_kind, ", ")))
end
