--- The container's file system, set up from inside its mount namespace:
-- private propagation, the root, /proc, /sys, /dev, /tmp, pivot_root.
-- Each function does one step and returns true or nil, message, errno.
local core = require "wbl.core"
local mount, fs, E = core.mount.mount, core.fs, core.errno

local M = {}

--- Make every mount private, recursively, so that nothing mounted from
-- here on propagates to the host (systemd makes / shared).
function M.make_private()
  return mount(nil, "/", nil, "rec,private")
end

--- Make root a mount point of its own (pivot_root needs one): a
-- recursive bind of the directory onto itself.
function M.bind_root(root)
  return mount(root, root, nil, "bind,rec")
end

-- A mount point inside root, made if missing.  It is resolved inside
-- root (openat2 RESOLVE_IN_ROOT): an image's /proc -> /etc symlink
-- leads to root/etc, never to the host's.
local function target(root, path)
  local fd, where, en = core.inroot.open(root, path, "dir")
  if not fd then return nil, where, en end
  fd:close()
  if not where then return nil, "resolve " .. path .. " in " .. root .. ": no path", E.ENOENT end
  return where
end

--- /proc of the container's PID namespace: nosuid, noexec, nodev.
function M.mount_proc(root)
  local t, msg, en = target(root, "/proc")
  if not t then return nil, msg, en end
  return mount("proc", t, "proc", "nosuid,noexec,nodev")
end

--- /sys, read-only.  A new network namespace owns a sysfs of its own;
-- without one the kernel refuses (EPERM), and the host's is bound instead.
function M.mount_sys(root)
  local t, msg, en = target(root, "/sys")
  if not t then return nil, msg, en end
  local ok
  ok, msg, en = mount("sysfs", t, "sysfs", "nosuid,noexec,nodev,ro")
  if ok or en ~= E.EPERM then return ok, msg, en end
  ok, msg, en = mount("/sys", t, nil, "bind,rec")
  if not ok then return nil, msg, en end
  return mount(nil, t, nil, "remount,bind,ro,nosuid,noexec,nodev")
end

M.devices = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
  { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
}

--- /dev: a small tmpfs with the usual character devices, a devpts
-- instance of its own (ptmx -> pts/ptmx), /dev/shm and the fd links.
-- Devices are made with mknod; where that is not allowed (a user
-- namespace) the host's node is bound over an empty file instead.
function M.mount_dev(root)
  local dev, msg, en = target(root, "/dev")
  if not dev then return nil, msg, en end
  local ok
  ok, msg, en = mount("tmpfs", dev, "tmpfs", "nosuid,noexec", "mode=755,size=65536k")
  if not ok then return nil, msg, en end
  local old = fs.umask(0)
  for _, d in ipairs(M.devices) do
    local p = dev .. "/" .. d[1]
    ok, msg, en = fs.mknod(p, "c", d[2], d[3], "0666")
    if not ok and en == E.EPERM then
      ok, msg, en = fs.write_file(p, "", "creat", "0666")
      if ok then ok, msg, en = mount("/dev/" .. d[1], p, nil, "bind") end
    end
    if not ok then fs.umask(old); return nil, msg, en end
  end
  fs.umask(old)
  for _, dir in ipairs { "pts", "shm" } do
    ok, msg, en = fs.mkdir(dev .. "/" .. dir, dir == "shm" and "01777" or "0755")
    if not ok then return nil, msg, en end
  end
  ok, msg, en = mount("devpts", dev .. "/pts", "devpts", "nosuid,noexec",
    "newinstance,ptmxmode=0666,mode=0620")
  if not ok then return nil, msg, en end
  ok, msg, en = mount("shm", dev .. "/shm", "tmpfs", "nosuid,nodev,noexec", "mode=1777,size=65536k")
  if not ok then return nil, msg, en end
  for name, to in pairs { ptmx = "pts/ptmx", fd = "/proc/self/fd", stdin = "/proc/self/fd/0",
                          stdout = "/proc/self/fd/1", stderr = "/proc/self/fd/2" } do
    ok, msg, en = fs.symlink(to, dev .. "/" .. name)
    if not ok then return nil, msg, en end
  end
  return true
end

--- /dev/console: the terminal on stdin (with -t), bound over an empty
-- file, so that ttyname() and `tty` find it inside the container.
function M.mount_console(root)
  local tty, msg, en = fs.readlink("/proc/self/fd/0")
  if not tty then return nil, msg, en end
  local fd, where
  fd, where, en = core.inroot.open(root, "/dev/console", "file")
  if not fd then return nil, where, en end
  local ok
  ok, msg, en = core.inroot.bind(tty, fd)
  fd:close()
  if not ok then return nil, msg .. " on " .. tostring(where), en end
  return true
end

--- /tmp: a tmpfs (sticky, world-writable).
function M.mount_tmp(root)
  local t, msg, en = target(root, "/tmp")
  if not t then return nil, msg, en end
  return mount("tmpfs", t, "tmpfs", "nosuid,nodev", "mode=1777")
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
