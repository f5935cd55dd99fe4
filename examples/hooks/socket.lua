-- examples/hooks/socket.lua: bind a host directory holding a socket (say
-- /run/myapp) into the container, read-only, after its mounts are made.
--   MYAPP_DIR=/run/myapp wbl scripts/run.lua --hook examples/hooks/socket.lua --rm ls /run/myapp
local dir = os.getenv("MYAPP_DIR") or "/run/myapp"
return {
  root = function(c, wbl)
    if not wbl.core.fs.stat(dir) then return end -- nothing to share
    local fd = assert(wbl.core.inroot.open(c.root, dir, "dir"))
    local ok, msg = wbl.core.inroot.bind(dir, fd, "rec,ro")
    fd:close()
    assert(ok, msg)
  end,
}
