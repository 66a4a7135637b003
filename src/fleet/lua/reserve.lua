-- Reserves an amount in every capped scope of a request, all or nothing.
-- KEYS: leases, lease records, then one hash per capped scope.
-- ARGV: now (or ''), id, amount, lease_ms, then per scope: limit, window_ms (0: lifetime).
-- Returns {1} reserved; {0, scope_index, limit, spent, reserved} refused; {2} id already held.
local now = now_ms()
purge(KEYS[1], KEYS[2], now)
local id, amount, lease = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HEXISTS', KEYS[2], id) == 1 then return {2} end
local rec = {tostring(amount)}
local states = {}
for i = 3, #KEYS do
  local limit = tonumber(ARGV[5 + 2 * (i - 3)])
  local win = tonumber(ARGV[6 + 2 * (i - 3)])
  local w, spent, res, over = state(KEYS[i], win, now)
  if spent + res + amount > limit then return {0, i - 3, limit, spent, res} end
  states[i] = {w, spent, res, win, over}
  rec[#rec + 1] = string.format('%d:%s', win, KEYS[i])
end
local lease_end = now + lease
for i = 3, #KEYS do
  local s = states[i]
  redis.call('HSET', KEYS[i], 'w', s[1], 'spent', s[2], 'res', s[3] + amount, 'over', s[5])
  keep(KEYS[i], s[4], now, lease_end)
end
redis.call('HSET', KEYS[2], id, table.concat(rec, '\n'))
redis.call('ZADD', KEYS[1], lease_end, id)
return {1}
