--- The container's root as layers: the overlay root, --read-only, and
-- the syntax of -v and --tmpfs (wbl.docker turns them into the spec's
-- mounts; wbl.rootfs mounts them).  The mount steps run in init.lua,
-- inside the container's mount namespace after `make mounts private`, so
-- none of these mounts can outlive the container or show on the host.
local core = require "wbl.core"
local fs, inroot = core.fs, core.inroot

local M = {}

-- Option values (pure: checked before anything is created) -------------

--- -v HOST:CONTAINER[:ro|:rw] -> { host=, path=, ro=, spec= }.
-- Both paths absolute; paths holding ':' cannot be given this way.
function M.parse_volume(s)
  local parts = {}
  for p in (s .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  local mode = "rw"
  if #parts == 3 then
    mode = parts[3]
    if mode ~= "ro" and mode ~= "rw" then return nil, "the mode must be ro or rw" end
  elseif #parts ~= 2 then
    return nil, "expected HOST:CONTAINER[:ro|:rw]"
  end
  local host, path = parts[1], parts[2]
  if host:sub(1, 1) ~= "/" then return nil, "the host path must be absolute" end
  if path:sub(1, 1) ~= "/" then return nil, "the container path must be absolute" end
  if path:gsub("/+", "/") == "/" then return nil, "cannot mount over the container's /" end
  return { host = host, path = path, ro = mode == "ro", spec = s }
end

--- --tmpfs PATH[:OPTIONS] -> { path=, data= } (options as for mount -o,
-- e.g. size=64m,mode=1777; default mode=1777).
function M.parse_tmpfs(s)
  local path, data = s:match("^([^:]*):(.*)$")
  path = path or s
  if path:sub(1, 1) ~= "/" then return nil, "the path must be absolute" end
  if path:gsub("/+", "/") == "/" then return nil, "cannot mount over the container's /" end
  if data == "" then return nil, "empty options after ':'" end
  return { path = path, data = data or "mode=1777", spec = s }
end

-- Host side ---------------------------------------------------------------

--- Make the missing host directories of volumes (as docker's -v does):
-- a list of host paths (spec.wbl.volume_sources).  owner: { uid, gid }
-- of a user namespace's root (wbl.userns), whose the new directory then
-- is (as docker's userns-remap makes them); nil: root's.
function M.prepare_volumes(sources, owner)
  for _, host in ipairs(sources or {}) do
    if not fs.stat(host) then
      local ok, msg, en = fs.mkdir_p(host, "0755")
      if ok and owner then ok, msg, en = fs.lchown(host, owner.uid, owner.gid) end
      if not ok then return nil, msg, en end
    end
  end
  return true
end

-- Container side (init.lua, before pivot_root) ---------------------------

--- Mount the root: c.lowers under c.upper (with c.work) on c.root; a
-- root used in place (no write layer: an OCI bundle's) is bound onto
-- itself, with its submounts (pivot_root needs a mount point).
function M.mount_root(c)
  if not c.upper then return core.mount.mount(c.root, c.root, nil, "bind,rec") end
  -- (mounted in a user namespace: its own xattrs as user.overlay.*)
  return core.overlay.mount(c.lowers, c.upper, c.work, c.root, c._userns and "userxattr" or nil)
end

--- Make the root mount read-only (only it: /proc, /dev, /tmp, volumes
-- and tmpfs keep their own flags).
function M.read_only(root)
  return core.mount.mount(nil, root, nil, "remount,bind,ro")
end

--- Where path inside root really is on the host (nil, msg if it cannot
-- be resolved inside root).
function M.resolve(root, path)
  local fd, where, en = inroot.open(root, path)
  if not fd then return nil, where, en end
  fd:close()
  return where
end

return M
