-- Drops a reservation; nothing when the id is not held.
-- KEYS: leases, lease records. ARGV: now (or ''), id. Returns 1 released, 0 not held.
local now = now_ms()
purge(KEYS[1], KEYS[2], now)
if drop(KEYS[1], KEYS[2], ARGV[2]) then return 1 end
return 0
