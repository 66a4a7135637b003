-- Replaces a reservation with the real cost; nothing when the id is not known (settled or
-- released), so a retry is applied once. A settle after the lease ended is recorded in full,
-- as overrun (its reservation was given back at the lease's end).
-- KEYS: leases, lease records. ARGV: now (or ''), id, actual.
-- Returns 1 settled, 0 not held.
local now = now_ms()
purge(KEYS[1], KEYS[2], now)
local actual = tonumber(ARGV[3])
local amount, parts, ended = drop(KEYS[1], KEYS[2], ARGV[2])
if not amount then return 0 end
if ended then amount = 0 end
for i = 2, #parts do
  local win, key = string.match(parts[i], '^(%d+):(.*)$')
  if key then
    win = tonumber(win)
    local w, spent, _, over = state(key, win, now)
    redis.call('HSET', key, 'w', w, 'spent', spent + actual, 'over', over + math.max(0, actual - amount))
    keep(key, win, now, 0)
  end
end
return 1
