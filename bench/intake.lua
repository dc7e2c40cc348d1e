-- Single-report load for wrk: every request posts a different pre-encoded body (one JSON
-- object per line of the file given as the first script argument) from a client address of
-- its own (the second argument numbers the run, so no two runs share addresses), so each request passes the rate limit and the dedupe check as a distinct person's
-- first report would. The same script drives the bare reference view, so both carry the same
-- load-generator cost. done() prints one line "BENCH_JSON {...}" for bench/intake.py.

wrk.method = "POST"

local bodies = {}
local counter = 0
-- Global, not local: done() reads it from each thread with thread:get().
statuses = {}
local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(args[1]) do
      bodies[#bodies + 1] = line
   end
   -- Threads start at different offsets so they do not send identical sequences.
   counter = thread_index * 7919
   run = tonumber(args[2])
end

function request()
   counter = counter + 1
   local body = bodies[(counter % #bodies) + 1]
   -- <10 + thread>.<run>.x.y: 65,536 distinct clients per thread and run before any repeats.
   local ip = string.format(
      "%d.%d.%d.%d", 10 + thread_index, run % 256, math.floor(counter / 256) % 256, counter % 256
   )
   local headers = {
      ["Content-Type"] = "application/json",
      ["X-Forwarded-For"] = ip,
   }
   return wrk.format(nil, nil, headers, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      local got = thread:get("statuses")
      for status, n in pairs(got) do
         counts[status] = (counts[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(counts) do
      parts[#parts + 1] = string.format('"%d": %d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, '
         .. '"statuses": {%s}}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean,
      table.concat(parts, ", ")
   ))
end
