-- One sync of a process's breakers with the fleet: adds its outcome counts, opens and closes,
-- then reads every model's fleet-wide state. Time is the server's (TIME).
-- KEYS[1]: the key prefix (`<prefix>:{<tag>}`); every key below starts with it.
-- ARGV: owner, window_ms, buckets, min_calls, failure_rate, open_for_ms, probe_ms,
--       then per model: id, ok, failed, opened (0/1), closed (0/1).
-- Returns per model known to the fleet: {id, state, ms, opens}; state 0 closed, 1 open (ms
-- left), 2 half-open with this owner holding the probe slot, 3 half-open with another's.
local P = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner = ARGV[1]
local win, nb = tonumber(ARGV[2]), tonumber(ARGV[3])
local min_calls, rate = tonumber(ARGV[4]), tonumber(ARGV[5])
local open_for, probe_ms = tonumber(ARGV[6]), tonumber(ARGV[7])
local blen = math.max(1, math.floor(win / nb))
local idx = math.floor(now / blen)
local models = P .. ':models'

local function trip(m)
  redis.call('SET', P .. ':open:' .. m, '1', 'PX', open_for)
  redis.call('SET', P .. ':tripped:' .. m, '1')
  redis.call('INCR', P .. ':opens:' .. m)
  if redis.call('GET', P .. ':probe:' .. m) == owner then redis.call('DEL', P .. ':probe:' .. m) end
end

local i = 8
while i + 4 <= #ARGV do
  local m, ok, failed = ARGV[i], tonumber(ARGV[i + 1]) or 0, tonumber(ARGV[i + 2]) or 0
  local opened, closed = ARGV[i + 3] == '1', ARGV[i + 4] == '1'
  i = i + 5
  redis.call('SADD', models, m)
  local tripped = redis.call('EXISTS', P .. ':tripped:' .. m) == 1
  if closed then
    redis.call('DEL', P .. ':tripped:' .. m, P .. ':open:' .. m, P .. ':probe:' .. m)
  elseif opened then
    trip(m)
  elseif not tripped and ok + failed > 0 then
    local bucket = P .. ':calls:' .. m .. ':' .. idx
    redis.call('HINCRBY', bucket, 'o', ok)
    redis.call('HINCRBY', bucket, 'f', failed)
    redis.call('PEXPIRE', bucket, win + blen)
    local calls, fails = 0, 0
    for b = idx - nb + 1, idx do
      local v = redis.call('HMGET', P .. ':calls:' .. m .. ':' .. b, 'o', 'f')
      calls = calls + (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
      fails = fails + (tonumber(v[2]) or 0)
    end
    if calls >= min_calls and fails >= rate * calls then
      trip(m)
      for b = idx - nb + 1, idx do redis.call('DEL', P .. ':calls:' .. m .. ':' .. b) end
    end
  end
end

local out = {}
for _, m in ipairs(redis.call('SMEMBERS', models)) do
  local state, ms = 0, 0
  if redis.call('EXISTS', P .. ':tripped:' .. m) == 1 then
    local left = tonumber(redis.call('PTTL', P .. ':open:' .. m)) or -2
    if left > 0 then
      state, ms = 1, left
    else
      local probe = P .. ':probe:' .. m
      redis.call('SET', probe, owner, 'NX', 'PX', probe_ms)
      if redis.call('GET', probe) == owner then state = 2 else state = 3 end
      ms = tonumber(redis.call('PTTL', probe)) or 0
    end
  end
  out[#out + 1] = {m, state, ms, tonumber(redis.call('GET', P .. ':opens:' .. m)) or 0}
end
return out
