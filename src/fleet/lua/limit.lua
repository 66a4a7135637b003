-- A deployment's rate limits shared by every replica: two GCRA cells (requests and tokens per
-- minute) and a pause, in one hash. Times are microseconds of the server's clock (TIME), so
-- replicas with skewed clocks agree; integers are written with %.0f (exact below 2^53).
--
-- KEYS[1]: the hash: rl, tl (limits per minute, 0: none), rt, tt (theoretical arrival times),
--          pu (paused until).
-- KEYS[2]: the calls in flight, when concurrency is shared: a sorted set of lease ids scored
--          by the time each lease ends (a crashed replica's calls give their slots back then).
-- ARGV[1]: the operation:
--   acquire  tokens rpm tpm [max lease lease_id]
--                            -> {0, share left in permille} | {1 requests | 2 tokens, wait}
--                               | {3, tpm} (never fits) | {4, wait} (paused)
--                               | {5, max} (max calls in flight, when max > 0)
--   release  lease_id        -> {0}  (a call in flight ended)
--   settle   n               -> {0}  (n tokens given back: the call used fewer than reserved)
--   settle_over n            -> {0}  (n tokens more taken: it used more)
--   learn    rl rrem tl trem rpm tpm -> {0}  (a limit of 0: not reported; rpm, tpm: the
--                               configured limits, ceilings on what is learned)
--   throttle wait            -> {0}
-- rpm and tpm in acquire are the configured limits, used until the provider reports its own
-- (which may lower them, never raise them).

local P = 60000000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local h = redis.call('HMGET', KEYS[1], 'rl', 'tl', 'rt', 'tt', 'pu')
local rl = tonumber(h[1]) or 0
local tl = tonumber(h[2]) or 0
local rt = tonumber(h[3]) or 0
local tt = tonumber(h[4]) or 0
local pu = tonumber(h[5]) or 0

local function cost(n, limit)
  if limit <= 0 then return 0 end
  return math.ceil(n * P / limit)
end
local function used(tat, limit)
  if limit <= 0 then return 0 end
  return math.ceil(math.max(tat - now, 0) * limit / P)
end
local function int(x) return string.format('%.0f', x) end
local function save()
  redis.call('HSET', KEYS[1], 'rl', int(rl), 'tl', int(tl), 'rt', int(rt), 'tt', int(tt), 'pu', int(pu))
  redis.call('PEXPIRE', KEYS[1], 2 * P / 1000 + math.max(pu - now, 0) / 1000)
end

local op = ARGV[1]
if op == 'acquire' then
  local tokens = tonumber(ARGV[2])
  if rl == 0 then rl = tonumber(ARGV[3]) or 0 end
  if tl == 0 then tl = tonumber(ARGV[4]) or 0 end
  if pu > now then return {4, pu - now} end
  if tl > 0 and tokens > tl then return {3, tl} end
  local nrt = rt
  if rl > 0 then
    nrt = math.max(rt, now) + cost(1, rl)
    if nrt > now + P then return {1, nrt - now - P} end
  end
  local ntt = tt
  if tl > 0 then
    ntt = math.max(tt, now) + cost(tokens, tl)
    if ntt > now + P then return {2, ntt - now - P} end
  end
  local max = tonumber(ARGV[5]) or 0
  if max > 0 then
    local lease = tonumber(ARGV[6]) or 0
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))
    if redis.call('ZCARD', KEYS[2]) >= max then return {5, max} end
    redis.call('ZADD', KEYS[2], int(now + lease), ARGV[7])
    redis.call('PEXPIRE', KEYS[2], math.ceil(lease / 1000) + 1000)
  end
  rt, tt = nrt, ntt
  save()
  local share = 1000
  if rl > 0 then share = math.min(share, math.floor((rl - math.min(used(rt, rl), rl)) * 1000 / rl)) end
  if tl > 0 then share = math.min(share, math.floor((tl - math.min(used(tt, tl), tl)) * 1000 / tl)) end
  return {0, share}
elseif op == 'settle' or op == 'settle_over' then
  local d = tonumber(ARGV[2]) or 0
  if tl > 0 and op == 'settle' then tt = tt - math.floor(d * P / tl) end
  if tl > 0 and op == 'settle_over' then tt = math.max(tt, now) + cost(d, tl) end
  save()
  return {0}
elseif op == 'learn' then
  -- A configured limit (cap, 0: none) is a ceiling: the provider's report lowers it, never
  -- raises it; what the provider counts as used is taken at the limit adopted.
  local function adopt(cur, tat, limit, remaining, cap)
    if limit <= 0 then return cur, tat end
    local theirs = limit - math.min(remaining, limit)
    if cap > 0 and cap < limit then limit = cap end
    if limit ~= cur then
      tat = now + cost(used(tat, cur), limit)
      cur = limit
    end
    return cur, math.max(tat, now + cost(theirs, limit))
  end
  rl, rt = adopt(rl, rt, tonumber(ARGV[2]) or 0, tonumber(ARGV[3]) or 0, tonumber(ARGV[6]) or 0)
  tl, tt = adopt(tl, tt, tonumber(ARGV[4]) or 0, tonumber(ARGV[5]) or 0, tonumber(ARGV[7]) or 0)
  save()
  return {0}
elseif op == 'release' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {0}
elseif op == 'throttle' then
  pu = math.max(pu, now + (tonumber(ARGV[2]) or 0))
  save()
  return {0}
end
return redis.error_reply('unknown operation')
