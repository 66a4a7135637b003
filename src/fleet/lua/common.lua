-- Shared by every budget script (prepended to each). Amounts are whole micro-dollars; times are
-- milliseconds. ARGV[1] is the caller's time, or empty for the server's clock (TIME).
--
-- Keys (all under one prefix with a {hash tag}, so they share a Redis Cluster slot):
--   <prefix>:leases        sorted set: reservation id -> lease end (ms)
--   <prefix>:lease         hash: reservation id -> "amount\nwindow_ms:scope_key\n..."
--   <prefix>:scope:<name>  hash per capped scope: w (window index), spent, res (reserved), over

local server_time = (ARGV[1] == nil or ARGV[1] == '')
local function now_ms()
  if server_time then
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return tonumber(ARGV[1])
end

-- The scope's window index, settled spend and overrun in that window (both start again with
-- a new window, as in the in-memory store), and reservations in flight.
local function state(key, win, now)
  local v = redis.call('HMGET', key, 'w', 'spent', 'res', 'over')
  local w = 0
  if win > 0 then w = math.floor(now / win) end
  local spent = tonumber(v[2]) or 0
  local over = tonumber(v[4]) or 0
  if tonumber(v[1]) ~= w then
    spent = 0
    over = 0
  end
  return w, spent, tonumber(v[3]) or 0, over
end

-- Keeps a windowed scope's key until its window ends and `until_ms` (a lease end) has passed;
-- a lifetime cap's key is kept for good. Expiry follows the server's clock only: with a
-- caller's clock (tests) keys are left without expiry.
local function keep(key, win, now, until_ms)
  if win <= 0 or not server_time then return end
  local t = math.max((math.floor(now / win) + 1) * win, until_ms)
  local ttl = tonumber(redis.call('PTTL', key)) or -1
  if ttl > 0 then t = math.max(t, now + ttl) end
  redis.call('PEXPIRE', key, math.max(1, t - now))
end

-- The amount and the "window_ms:scope_key" entries of a lease record.
local function record(rec)
  local parts = {}
  for p in string.gmatch(rec, '[^\n]+') do parts[#parts + 1] = p end
  return tonumber(parts[1]) or 0, parts
end

-- Takes `amount` off a scope's reservations (never below zero; a vanished key stays vanished).
local function unreserve(key, amount)
  local r = tonumber(redis.call('HGET', key, 'res'))
  if r then redis.call('HSET', key, 'res', math.max(0, r - amount)) end
end

-- How long an ended lease is remembered, so that a late settle is still recorded (as overrun).
local EXPIRED_KEEP_MS = 3600000

-- Drops a lease record. A live lease's amount comes off every scope it was taken in; an ended
-- one (marked "x") gave its amount back already. Returns amount, parts, ended.
local function drop(leases, records, id)
  local rec = redis.call('HGET', records, id)
  redis.call('HDEL', records, id)
  redis.call('ZREM', leases, id)
  if not rec then return nil end
  if string.sub(rec, 1, 2) == 'x\n' then
    local amount, parts = record(string.sub(rec, 3))
    return amount, parts, true
  end
  local amount, parts = record(rec)
  for i = 2, #parts do
    local key = string.match(parts[i], '^%d+:(.*)$')
    if key then unreserve(key, amount) end
  end
  return amount, parts, false
end

-- Gives back the leases that ended (at most 1000 per call; the rest on the next calls), and
-- keeps each one's record, marked ended, for EXPIRED_KEEP_MS; forgets records older than that.
local function purge(leases, records, now)
  local ids = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(ids) do
    local rec = redis.call('HGET', records, id)
    local amount, _, ended = drop(leases, records, id)
    if amount and not ended then
      redis.call('HSET', records, id, 'x\n' .. rec)
      redis.call('ZADD', leases, now + EXPIRED_KEEP_MS, id)
    end
  end
end
