-- examples/user.lua: a user namespace maps ids.  The child becomes root
-- (uid 0) inside, while the host sees the same process as uid 100000.
--   wbl examples/user.lua
local core = require "wbl.core"
local P, fs = core.proc, core.fs

local to_child_r, to_child_w = assert(core.fd.pipe())
local to_host_r, to_host_w = assert(core.fd.pipe())
local pid = assert(P.clone("user"))
if pid == 0 then
  to_child_w:close()
  to_host_r:close()
  to_child_r:read(1) -- wait until the host has written the maps
  assert(P.setgid(0))
  assert(P.setuid(0))
  local uid, gid = P.getuid(), P.getgid()
  local map = fs.read_file("/proc/self/uid_map"):gsub("^%s+", ""):gsub("%s+", " ")
  print(("child: uid %d gid %d inside (uid_map: %s)"):format(uid, gid, map))
  io.stdout:flush()
  to_host_w:write("r") -- now the host may look at us
  to_child_r:read(1) -- and we stay until it has
  P._exit(0)
end
to_child_r:close()
to_host_w:close()
-- The maps are written from outside, once: "inside outside count".
assert(fs.write_file("/proc/" .. pid .. "/uid_map", "0 100000 1", ""))
assert(fs.write_file("/proc/" .. pid .. "/setgroups", "deny", ""))
assert(fs.write_file("/proc/" .. pid .. "/gid_map", "0 100000 1", ""))
to_child_w:write("g")
to_host_r:read(1)
local st = assert(fs.stat("/proc/" .. pid))
print(("host: the same process is uid %d gid %d"):format(st.uid, st.gid))
to_child_w:close()
P.waitpid(pid)
