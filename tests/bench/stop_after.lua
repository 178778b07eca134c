-- wrk script: each thread stops after BENCH_STOP_AFTER responses (wrk still
-- waits out -d, but sends nothing more), so a run serves an exact number of
-- requests. Used by the memory measurement.
local n = 0
local limit = tonumber(os.getenv("BENCH_STOP_AFTER") or "0")

function response(status, headers, body)
   n = n + 1
   if limit > 0 and n >= limit then
      wrk.thread:stop()
   end
end
