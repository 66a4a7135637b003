-- One sync of a process's statistics with the fleet: adds what it recorded since the last sync,
-- then reads back the fleet's sums. Time is the server's (TIME).
-- KEYS[1]: the key prefix (`<prefix>:{<tag>}`); every key below starts with it.
--   <prefix>:lat:<bucket>  hash per time bucket, expiring after the window: per model
--                          o:<model> (successful calls), f:<model> (failed calls),
--                          l:<model> (sum of latencies, ms), r:<model> (sum of slowdown ratios)
--   <prefix>:arms          hash, no expiry: the online learner's arms, fields
--                          s|f|n|c .. '\n' .. <kind> .. '\n' .. <model> (names escaped, no
--                          newline): successes, failures, observations, cost sum (USD)
-- ARGV: bucket_ms, buckets, number of model rows, then per model: id, ok, failed, latency_sum,
--       ratio_sum; then per arm: kind, model, successes, failures, n, cost_sum.
-- Returns {buckets, arms}: buckets is a list of {age in buckets (0 = now), HGETALL of the
-- bucket} for every non-empty bucket of the window; arms is the HGETALL of the arms.
local P = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blen, nb, rows = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local idx = math.floor(now / blen)
local cur = P .. ':lat:' .. idx

local i = 4
for _ = 1, rows do
  local m = ARGV[i]
  redis.call('HINCRBY', cur, 'o:' .. m, ARGV[i + 1])
  redis.call('HINCRBY', cur, 'f:' .. m, ARGV[i + 2])
  redis.call('HINCRBYFLOAT', cur, 'l:' .. m, ARGV[i + 3])
  redis.call('HINCRBYFLOAT', cur, 'r:' .. m, ARGV[i + 4])
  i = i + 5
end
if rows > 0 then redis.call('PEXPIRE', cur, blen * (nb + 1)) end

local arms = P .. ':arms'
while i + 5 <= #ARGV do
  local f = '\n' .. ARGV[i] .. '\n' .. ARGV[i + 1]
  redis.call('HINCRBYFLOAT', arms, 's' .. f, ARGV[i + 2])
  redis.call('HINCRBYFLOAT', arms, 'f' .. f, ARGV[i + 3])
  redis.call('HINCRBY', arms, 'n' .. f, ARGV[i + 4])
  redis.call('HINCRBYFLOAT', arms, 'c' .. f, ARGV[i + 5])
  i = i + 6
end

local buckets = {}
for b = idx - nb + 1, idx do
  local v = redis.call('HGETALL', P .. ':lat:' .. b)
  if #v > 0 then buckets[#buckets + 1] = {idx - b, v} end
end
return {buckets, redis.call('HGETALL', arms)}
