-- examples/pid.lua: the first process of a new PID namespace is PID 1,
-- and its children count from there.
--   wbl examples/pid.lua
local core = require "wbl.core"
local P = core.proc

print("host sees itself as " .. P.getpid())
local pid = assert(P.clone("pid"))
if pid == 0 then
  print("child sees itself as " .. P.getpid() .. ", its parent as " .. P.getppid())
  local grandchild = assert(P.fork())
  if grandchild == 0 then
    print("grandchild sees itself as " .. P.getpid())
    io.stdout:flush()
    P._exit(0)
  end
  P.waitpid(grandchild)
  io.stdout:flush()
  P._exit(0)
end
print("host sees the child as " .. pid)
io.stdout:flush()
P.waitpid(pid)
