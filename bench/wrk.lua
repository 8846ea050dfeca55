-- Replays pre-signed webhook requests (one per line of REQUESTS_FILE, each a
-- whole HTTP request with \n escaped as \\n), thread i taking lines i, i+T, ...
-- so every MessageSid is sent once. Prints exact figures as JSON at the end.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("REQUESTS_FILE")
  local total = tonumber(os.getenv("WRK_THREADS"))
  reqs, n, i = {}, 0, 0
  local line_no = 0
  for line in io.lines(path) do
    if line_no % total == id then
      n = n + 1
      reqs[n] = line:gsub("\\n", "\r\n")
    end
    line_no = line_no + 1
  end
  failsafe, bad = 0, 0
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif body:find("cannot answer right now", 1, true) then
    failsafe = failsafe + 1
  end
end

function done(summary, latency, requests)
  local failsafe_total, bad_total = 0, 0
  for _, t in ipairs(threads) do
    failsafe_total = failsafe_total + t:get("failsafe")
    bad_total = bad_total + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "non200": %d, "failsafe": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, bad_total, failsafe_total))
end
