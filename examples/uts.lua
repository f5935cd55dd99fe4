-- examples/uts.lua: a UTS namespace has a hostname of its own.
--   wbl examples/uts.lua [NAME]
local core = require "wbl.core"
local P = core.proc

local name = arg[1] or "inside-uts"
print("host:  " .. core.ns.gethostname())

local pid = assert(P.clone("uts"))
if pid == 0 then
  assert(core.ns.sethostname(name))
  print("child: " .. core.ns.gethostname())
  io.stdout:flush()
  P._exit(0)
end
P.waitpid(pid)
print("host:  " .. core.ns.gethostname() .. " (unchanged)")
