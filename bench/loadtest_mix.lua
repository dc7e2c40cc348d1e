-- The outage-day mix for wrk: a crowd on one service, nine reads (its page, its API, the
-- home page and the open incidents) to one report, every request from a client address of
-- its own (the first script argument numbers the stage, so no two stages share addresses).
-- done() prints one line "BENCH_JSON {...}" with every status counted, for bench/loadtest.py.
local reads = {
   "/youtube/", "/api/v1/services/youtube", "/youtube/", "/api/v1/services/youtube/trend?range=6h",
   "/youtube/", "/", "/api/v1/outages/open", "/youtube/", "/api/v1/services/youtube/heatmap?window=1h",
}
local problems = { "playback", "upload", "login", "app", "website" }
local countries = { "US", "BR", "IN", "GB", "DE", "FR", "JP", "MX", "ID", "TR" }
local counter = 0
local threads = {}
-- Global, not local: done() reads it from each thread with thread:get().
statuses = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   counter = thread_index * 7919
   stage = tonumber(args[1])
end

function request()
   counter = counter + 1
   local ip = string.format(
      "%d.%d.%d.%d", 20 + thread_index, stage % 256, math.floor(counter / 256) % 256, counter % 256
   )
   if counter % 10 == 0 then
      local n = math.floor(counter / 10)
      local body = string.format(
         '{"service": "youtube", "problem": "%s", "country": "%s"}',
         problems[n % #problems + 1], countries[n % #countries + 1]
      )
      local headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip }
      return wrk.format("POST", "/api/v1/reports", headers, body)
   end
   local headers = { ["X-Forwarded-For"] = ip, ["Accept-Encoding"] = "gzip" }
   return wrk.format("GET", reads[counter % #reads + 1], headers)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(counts) do
      parts[#parts + 1] = string.format('"%d": %d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
         .. '"socket_errors": %d, "statuses": {%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")
   ))
end
