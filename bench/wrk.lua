-- wrk script for `make bench` (scripts/bench).
--
-- Environment:
--   BENCH_PACE_MS      see below
--   BENCH_TOKEN        session token sent as Coder-Session-Token (optional)
--   BENCH_POST_PREFIX  when set, every request is POST {"name": "<prefix>-<thread>-<n>"}: a
--                      name unique across connections (one counter per wrk thread, and the
--                      thread's number in the name) and across runs (the prefix), that follows
--                      ^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$ within 32 characters.
--
-- done() prints one line, "BENCH_RESULT <json>", with the figures wrk measured itself, so the
-- script never has to read wrk's human-readable output.

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Coder-Session-Token"] = token
end

local prefix = os.getenv("BENCH_POST_PREFIX")
if prefix and prefix ~= "" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- BENCH_PACE_MS: when set, each connection waits that many milliseconds after each answer
-- before it sends its next request (wrk's delay()): a paced load below saturation, where the
-- latency is the server's own rather than the queue that a saturating load builds.
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "")
if pace and pace > 0 then
  function delay()
    return pace
  end
end

local threads = {}
local next_thread = 1

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

if prefix and prefix ~= "" then
  local counter = 0
  -- Only a POST run defines request(): GET runs keep wrk's static request, which is cheaper.
  function request()
    counter = counter + 1
    local name = string.format("%s-%d-%d", prefix, thread_number, counter)
    return wrk.format(nil, nil, nil, string.format('{"name":"%s"}', name))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"latency_mean_us":%.1f,"latency_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
