-- scripts/start.lua: start stopped containers again, detached: the same
-- spec and write layer, a new supervisor (as run -d).
--
--   wbl start NAME...
local wbl = require "wbl"
local cli = wbl.cli

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local _, names = cli.parse("wbl start NAME...", {}, arg)
if #names == 0 then cli.die("start needs a container name or id") end
local failed = false
for _, ref in ipairs(names) do
  local c, msg = cli.find(ref)
  if c and wbl.state.alive(c) then
    print(ref) -- running already: nothing to do, as docker
  elseif c then
    c.status, c.exit_code, c.finished = "creating", nil, nil
    local ok, err = wbl.supervisor.detach(c, function(ctr, ready)
      return wbl.supervisor.supervise(ctr, function(x, r) return wbl.container.life(x, here, r) end, ready)
    end)
    if ok then print(ref) else io.stderr:write("wbl: ", err, "\n"); failed = true end
  else
    io.stderr:write("wbl: ", msg, "\n")
    failed = true
  end
end
os.exit(failed and 125 or 0)
