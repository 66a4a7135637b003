-- Replaces a reservation with the real cost; nothing when the id is not held (settled,
-- released, or its lease ended), so a retry is applied once.
-- KEYS: leases, lease records. ARGV: now (or ''), id, actual.
-- Returns 1 settled, 0 not held.
local now = now_ms()
purge(KEYS[1], KEYS[2], now)
local actual = tonumber(ARGV[3])
local amount, parts = drop(KEYS[1], KEYS[2], ARGV[2])
if not amount then return 0 end
for i = 2, #parts do
  local win, key = string.match(parts[i], '^(%d+):(.*)$')
  if key then
    win = tonumber(win)
    local w, spent, res = state(key, win, now)
    redis.call('HSET', key, 'w', w, 'spent', spent + actual)
    if actual > amount then redis.call('HINCRBY', key, 'over', actual - amount) end
    keep(key, win, now, 0)
  end
end
return 1
