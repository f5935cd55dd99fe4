--- The container's file system, set up from inside its mount namespace:
-- private propagation, the spec's mounts (/proc, /sys, /dev, volumes...),
-- device nodes, the console, pivot_root.  Each function does one step and
-- returns true or nil, message, errno.
local core = require "wbl.core"
local mount, fs, E = core.mount.mount, core.fs, core.errno

local M = {}

--- Make every mount private, recursively, so that nothing mounted from
-- here on propagates to the host (systemd makes / shared).  prop, the
-- spec's linux.rootfsPropagation: (r)slave and (r)shared make them slaves
-- instead (the host's new mounts still come in; ours never go out).
function M.make_private(prop)
  if prop and (prop:find("slave", 1, true) or prop:find("shared", 1, true)) then
    return mount(nil, "/", nil, "rec,slave")
  end
  return mount(nil, "/", nil, "rec,private")
end

-- OCI's propagation options -> mount(2) flags.
local propagations = { private = "private", rprivate = "rec,private", slave = "slave", rslave = "rec,slave",
  shared = "shared", rshared = "rec,shared", unbindable = "unbindable", runbindable = "rec,unbindable" }

--- Apply the propagation options among a mount's options (rshared,
-- slave, private, ...) to the mount at path (the last one given wins).
function M.propagation(path, options)
  local flags
  for _, o in ipairs(options or {}) do flags = propagations[o] or flags end
  if not flags then return true end
  return mount(nil, path, nil, flags)
end

--- Make root a mount point of its own (pivot_root needs one): a
-- recursive bind of the directory onto itself.
function M.bind_root(root)
  return mount(root, root, nil, "bind,rec")
end

-- A mount point inside root, made if missing (a directory; "file" for an
-- empty file).  It is resolved inside root (openat2 RESOLVE_IN_ROOT): an
-- image's /proc -> /etc symlink leads to root/etc, never to the host's.
-- @return an O_PATH fd of it, and where it is (a path, for messages)
local function target(root, path, how)
  local fd, where, en = core.inroot.open(root, path, how or "dir")
  if not fd then return nil, where, en end
  return fd, where or (root .. path)
end

-- OCI mount options: those that are per-mount attributes, those that say
-- nothing here (propagation, atime: the defaults), and "rbind"; the rest
-- go to the file system (size=64m, mode=1777, newinstance, ...).
local attrs = { ro = true, nosuid = true, nodev = true, noexec = true }
local ignored = { rw = true, bind = true, suid = true, dev = true, exec = true, relatime = true,
                  strictatime = true, norelatime = true, atime = true, sync = true, async = true,
                  private = true, rprivate = true, slave = true, rslave = true, shared = true,
                  rshared = true, unbindable = true, runbindable = true, tmpcopyup = true }

--- Split a mount's options into attributes ("ro,nosuid,rec") and data.
function M.split_options(options)
  local flags, data = {}, {}
  for _, o in ipairs(options or {}) do
    if attrs[o] then flags[#flags + 1] = o
    elseif o == "rbind" then flags[#flags + 1] = "rec"
    elseif not ignored[o] then data[#data + 1] = o end
  end
  return table.concat(flags, ","), table.concat(data, ",")
end

local function with_fd(fd, where, ok, msg, en)
  fd:close()
  if not ok then return nil, msg .. " on " .. tostring(where), en end
  return true
end

-- sysfs: a new network namespace owns a sysfs of its own; without one
-- (--network host) the kernel refuses (EPERM), and the host's /sys is
-- bound instead, read-only.
local function sysfs(fd, where, flags)
  local ok, msg, en = core.inroot.mount("sysfs", fd, nil, flags)
  if ok or en ~= E.EPERM then return with_fd(fd, where, ok, msg, en) end
  return with_fd(fd, where, core.inroot.bind("/sys", fd, "rec,ro,nosuid,noexec,nodev"))
end

--- Mount one of the spec's mounts (m: { destination, type, source,
-- options }) inside c.root, its target resolved inside the root and made
-- if missing.  Kinds: proc, sysfs, cgroup (the container's own cgroups,
-- wbl.cgroup.mount_ns), tmpfs, devpts, mqueue, bind (a directory or a
-- file; rbind takes its submounts, and ro holds for them too).
function M.mount(c, m)
  local flags, data = M.split_options(m.options)
  if m.type == "cgroup" then
    if not c.cgroup then return true end -- no cgroups: nothing of its own to show
    return require("wbl.cgroup").mount_ns(c.root, c.cgroup)
  end
  local how = "dir"
  -- (in a user namespace the host opened the source: wbl.userns)
  local tree = m.type == "bind" and c._userns and c._userns.binds[m]
  if m.type == "bind" then
    local st, msg, en = tree, nil, nil
    if not tree then st, msg, en = fs.stat(m.source) end
    if not st then return nil, msg, en end
    if st.type ~= "directory" then how = "file" end
  end
  local fd, where, en = target(c.root, m.destination, how)
  if not fd then return nil, where, en end
  if m.type == "bind" then
    local ok, msg, e
    if tree then ok, msg, e = core.inroot.attach(tree.fd, fd)
    else ok, msg, e = core.inroot.bind(m.source, fd, flags) end
    ok, msg, e = with_fd(fd, where, ok, msg, e)
    if not ok then return nil, msg, e end
    return M.propagation(where, m.options) -- rshared, rslave, ... (OCI mounts)
  end
  if m.type == "sysfs" then return sysfs(fd, where, flags) end
  flags = flags:gsub("rec,?", "")
  local ok, msg, e = core.inroot.mount(m.type, fd, data ~= "" and data or nil, flags)
  for _, o in ipairs(ok and m.type == "tmpfs" and m.options or {}) do
    if o == "tmpcopyup" then ok, msg, e = M.copy_up(fd, where) end
  end
  return with_fd(fd, where, ok, msg, e)
end

--- tmpcopyup (runc's and crun's mount option, podman's --read-only uses
-- it): what the directory under a new tmpfs held, copied into it.  dir:
-- an fd of that directory from before the mount; where: the new mount.
function M.copy_up(dir, where)
  local pid = fs.readlink("/proc/self") -- (the host's /proc, before pivot_root)
  return require("wbl.util").run { "cp", "-a", ("/proc/%s/fd/%d/."):format(pid, dir:fileno()), where }
end

--- The device nodes of the spec (linux.devices) in the container's /dev
-- (a tmpfs by then), and the usual links: ptmx -> pts/ptmx, fd, stdin,
-- stdout, stderr.  Nodes are made with mknod; where that is not allowed
-- (a user namespace) the host's node is bound over an empty file instead.
function M.devices(root, devices)
  local dev, msg, en = target(root, "/dev")
  if not dev then return nil, msg, en end
  dev:close()
  dev = msg
  local old = fs.umask(0)
  local ok
  for _, d in ipairs(devices or {}) do
    local name = d.path:match("^/dev/(.+)$")
    -- no empty, . or .. part: the path stays in the container's /dev
    if not name or ("/" .. name .. "/"):find("/%.?%.?/") then
      fs.umask(old)
      return nil, ("device %s: expected /dev/NAME or /dev/DIR/NAME"):format(d.path), E.EINVAL
    end
    local p = dev .. "/" .. name
    local sub = name:match("^(.*)/[^/]+$") -- /dev/net/tun: make /dev/net
    ok, msg, en = true, nil, nil
    if sub then ok, msg, en = fs.mkdir_p(dev .. "/" .. sub, "0755") end
    if ok then ok, msg, en = fs.mknod(p, d.type, d.major, d.minor, d.fileMode or 438) end
    local bound = false
    if not ok and en == E.EPERM then
      -- d.host: the host node of a --device given another path inside
      ok, msg, en = fs.write_file(p, "", "creat", "0666")
      if ok then ok, msg, en = mount(d.host or d.path, p, nil, "bind") end
      bound = ok -- (the host's node: its owner stays the host's)
    end
    if ok and not bound and (d.uid or 0) + (d.gid or 0) ~= 0 then ok, msg, en = fs.lchown(p, d.uid or 0, d.gid or 0) end
    if not ok then fs.umask(old); return nil, msg, en end
  end
  fs.umask(old)
  for name, to in pairs { ptmx = "pts/ptmx", fd = "/proc/self/fd", stdin = "/proc/self/fd/0",
                          stdout = "/proc/self/fd/1", stderr = "/proc/self/fd/2" } do
    ok, msg, en = fs.symlink(to, dev .. "/" .. name)
    if not ok and en ~= E.EEXIST then return nil, msg, en end
  end
  return true
end

--- Mask paths (linux.maskedPaths): /dev/null bound over a file, an empty
-- read-only tmpfs over a directory, so what they show of the host (kernel
-- keys, memory, firmware) cannot be read.  A path the kernel does not
-- have is skipped.
function M.mask(root, paths)
  for _, path in ipairs(paths or {}) do
    local fd, where, en = core.inroot.open(root, path)
    if fd then
      local st = fs.stat(where)
      local ok, msg
      if st and st.type == "directory" then
        ok, msg, en = core.inroot.mount("tmpfs", fd, "size=0,mode=0555", "ro,nosuid,nodev,noexec")
      else
        ok, msg, en = core.inroot.bind("/dev/null", fd)
      end
      fd:close()
      if not ok then return nil, msg .. " on " .. tostring(where), en end
    elseif en ~= E.ENOENT then
      return nil, where, en
    end
  end
  return true
end

--- Make paths read-only (linux.readonlyPaths): each is bound onto itself,
-- read-only, with what is mounted below it.  Missing paths are skipped.
function M.readonly(root, paths)
  for _, path in ipairs(paths or {}) do
    local fd, where, en = core.inroot.open(root, path)
    if fd then
      local ok, msg
      ok, msg, en = core.inroot.bind(where, fd, "rec,ro,nosuid,nodev,noexec")
      fd:close()
      if not ok then return nil, msg .. " on " .. tostring(where), en end
    elseif en ~= E.ENOENT then
      return nil, where, en
    end
  end
  return true
end

--- Set the container's namespaced sysctls (linux.sysctl: { ["net.ipv4.ip_forward"]
-- = "1" }) through its own /proc inside root (before /proc/sys is made
-- read-only): net.* are its network namespace's, kernel.shm* its IPC's.
function M.sysctl(root, sysctl)
  local keys = {}
  for k in pairs(sysctl or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local path = "/proc/sys/" .. k:gsub("%.", "/")
    local fd, where, en = core.inroot.open(root, path)
    if not fd then return nil, ("sysctl %s: %s"):format(k, where), en end
    fd:close()
    local ok, msg
    ok, msg, en = fs.write_file(where, tostring(sysctl[k]) .. "\n", "trunc")
    if not ok then return nil, ("sysctl %s: %s"):format(k, msg), en end
  end
  return true
end

--- Make root the new /: pivot_root(".", ".") stacks the old root on top
-- of the new one; it is then detached, so nothing of the host remains
-- reachable (and there is no put_old directory left to remove).
function M.pivot(root)
  local ok, msg, en = fs.chdir(root)
  if not ok then return nil, msg, en end
  ok, msg, en = core.mount.pivot_root(".", ".")
  if not ok then return nil, msg, en end
  ok, msg, en = core.mount.umount2(".", "detach")
  if not ok then return nil, msg, en end
  return fs.chdir("/")
end

--- chdir into dir inside the container, making it if missing (as docker does).
function M.workdir(dir)
  local ok, msg, en = fs.mkdir_p(dir, "0755")
  if not ok then return nil, msg, en end
  return fs.chdir(dir)
end

--- stdin from /dev/null (a container run without -i).
function M.stdin_null()
  local fd, msg, en = core.fd.open("/dev/null", "rdonly")
  if not fd then return nil, msg, en end
  local ok
  ok, msg, en = fd:dup2(0)
  fd:close()
  return ok, msg, en
end

return M
