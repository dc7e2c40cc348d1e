-- GET load for wrk: done() prints one line "BENCH_JSON {...}" for bench/loadtest.py with the
-- request count, duration, latency percentiles and every response that was not a 2xx or 3xx.
function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"non_2xx_3xx": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      errors.status, errors.connect + errors.read + errors.write + errors.timeout
   ))
end
