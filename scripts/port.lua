-- scripts/port.lua: a container's published ports.
--
--   wbl port NAME
local wbl = require "wbl"
local cli = wbl.cli

local _, names = cli.parse("wbl port NAME", {}, arg)
if #names ~= 1 then cli.die("port needs one container name or id") end
local c = cli.get(names[1])
for _, p in ipairs((c.net and c.net.ports) or {}) do
  print(("%d/%s -> %s:%d"):format(p.container, p.proto, p.ip or "0.0.0.0", p.host))
end
