-- examples/mount_proc.lua: new mount and PID namespaces, and a /proc
-- mounted for the new PID namespace: inside, only our own processes show.
-- The mount is made after making propagation private, so the host never
-- sees it.
--   wbl examples/mount_proc.lua
local core = require "wbl.core"
local P, fs = core.proc, core.fs

local function pids()
  local out = {}
  for _, n in ipairs(assert(fs.readdir("/proc"))) do
    if n:match("^%d+$") then out[#out + 1] = tonumber(n) end
  end
  table.sort(out)
  return out
end

print("host: " .. #pids() .. " processes in /proc")
local pid = assert(P.clone("mnt,pid"))
if pid == 0 then
  assert(core.mount.mount(nil, "/", nil, "rec,private"))
  assert(core.mount.mount("proc", "/proc", "proc", "nosuid,noexec,nodev"))
  print("child: /proc lists " .. table.concat(pids(), " "))
  io.stdout:flush()
  P._exit(0)
end
P.waitpid(pid)
print("host: " .. #pids() .. " processes in /proc (its /proc untouched)")
