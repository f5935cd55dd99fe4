-- examples/ipc.lua: System V message queues belong to an IPC namespace.
-- A queue made outside is invisible inside, and the reverse.
--   wbl examples/ipc.lua
local core = require "wbl.core"
local P, ipc, fs = core.proc, core.ipc, core.fs

local function queues()
  local n = -1 -- the header line
  for _ in assert(fs.read_file("/proc/sysvipc/msg")):gmatch("[^\n]+") do n = n + 1 end
  return n
end

local q = assert(ipc.msgget(0, true))
assert(ipc.msgsnd(q, "hello from the host"))
print("host: " .. queues() .. " queue(s) here, ours is " .. q)

local pid = assert(P.clone("ipc"))
if pid == 0 then
  print("child: " .. queues() .. " queue(s) here")
  local _, msg = ipc.msgrcv(q)
  print("child: receiving from the host's queue: " .. tostring(msg))
  local mine = assert(ipc.msgget(0, true))
  assert(ipc.msgsnd(mine, "hello inside"))
  print("child: made a queue: " .. assert(ipc.msgrcv(mine)))
  io.stdout:flush()
  P._exit(0) -- the namespace, and its queue, die with us
end
P.waitpid(pid)
print("host: still receives " .. assert(ipc.msgrcv(q)))
assert(ipc.msgrm(q))
