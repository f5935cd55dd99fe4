-- examples/net.lua: a new network namespace has only a loopback, and it
-- is down until someone brings it up (here over netlink).
--   wbl examples/net.lua
local core = require "wbl.core"
local P, fs = core.proc, core.fs

local function links()
  local names = {}
  for _, n in ipairs(assert(fs.readdir("/sys/class/net"))) do names[#names + 1] = n end
  table.sort(names)
  return table.concat(names, " ")
end

local function lo_state()
  local flags = tonumber(assert(fs.read_file("/sys/class/net/lo/flags")))
  return flags & 1 == 1 and "up" or "down"
end

local pid = assert(P.clone("net,mnt"))
if pid == 0 then
  -- sysfs shows the namespace that mounts it: remount it privately
  assert(core.mount.mount(nil, "/", nil, "rec,private"))
  assert(core.mount.mount("sysfs", "/sys", "sysfs", "ro,nosuid,nodev,noexec"))
  print("child: links: " .. links() .. "; lo is " .. lo_state())
  local nl = assert(core.nl.open())
  assert(nl:link_set("lo", { up = true }))
  nl:close()
  print("child: lo is " .. lo_state() .. " after link_set")
  io.stdout:flush()
  P._exit(0)
end
P.waitpid(pid)
