-- Reads capped scopes in their current window.
-- KEYS: leases, lease records, then one hash per scope. ARGV: now (or ''), then per scope
-- window_ms. Returns per scope {spent, reserved, overrun}.
local now = now_ms()
purge(KEYS[1], KEYS[2], now)
local out = {}
for i = 3, #KEYS do
  local _, spent, res, over = state(KEYS[i], tonumber(ARGV[i - 1]), now)
  out[#out + 1] = {spent, res, over}
end
return out
