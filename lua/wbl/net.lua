--- Networking policy.  (Bridges, veths and addresses come with the
-- network issue; for now: the loopback of a new network namespace.)
local core = require "wbl.core"

local M = {}

--- Bring `lo` up in the calling process's network namespace.
function M.loopback_up()
  local nl, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local ok
  ok, msg, en = nl:link_set("lo", { up = true })
  nl:close()
  return ok, msg, en
end

return M
