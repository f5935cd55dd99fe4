-- scripts/wait.lua: wait until containers stop; print each exit status.
--
--   wbl wait NAME...
local wbl = require "wbl"
local cli = wbl.cli

local _, names = cli.parse("wbl wait NAME...", {}, arg)
if #names == 0 then cli.die("wait needs a container name or id") end
for _, ref in ipairs(names) do
  local c = cli.get(ref)
  -- stopped, and its teardown (by whoever manages it) done
  while wbl.state.alive(c) do
    wbl.util.sleep_ms(50)
    c = wbl.state.load(c.id) or c
  end
  c = wbl.state.load(c.id) or c
  print(c.exit_code or "")
end
