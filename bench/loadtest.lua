-- GET load for wrk, as a crowd sends it: every request from a client address of its own
-- (X-Forwarded-For, trusted because the server runs with TRUSTED_PROXY_COUNT=1, or 2 behind
-- nginx, which adds its own hop), so the read
-- throttle keeps one small counter per person as it would on an outage day. done() prints one
-- line "BENCH_JSON {...}" for bench/loadtest.py: requests, duration, latency percentiles and
-- every response that was not a 2xx or 3xx.
local counter = 0
local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   counter = thread_index * 7919
end

function request()
   counter = counter + 1
   local ip = string.format(
      "%d.%d.%d.%d", 10 + thread_index, math.floor(counter / 65536) % 256,
      math.floor(counter / 256) % 256, counter % 256
   )
   -- Every browser asks for compressed pages.
   return wrk.format(nil, nil, { ["X-Forwarded-For"] = ip, ["Accept-Encoding"] = "gzip" })
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"non_2xx_3xx": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      errors.status, errors.connect + errors.read + errors.write + errors.timeout
   ))
end
