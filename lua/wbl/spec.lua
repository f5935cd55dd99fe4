--- The container spec: one table that says everything a container is,
-- shaped like the OCI runtime config (runtime-spec config.md), so that
-- config.json maps onto it almost as is and docker-style options are one
-- front end's translation (wbl.docker).  Front ends only fill it; the
-- library reads it (cgroup limits, mounts, namespaces, the process); it is
-- saved with the container's state.
--
--   ociVersion
--   process   { args, env = { "K=V", ... }, cwd, terminal, user = { uid,
--               gid, additionalGids }, noNewPrivileges, capabilities,
--               rlimits = { { type = "RLIMIT_NOFILE", soft, hard } } }
--   root      { path (the lowest layer), readonly }
--   hostname
--   mounts    { { destination, type, source, options = { ... } }, ... }
--             in order; wbl's kinds: proc, sysfs, cgroup, tmpfs, devpts,
--             mqueue, bind
--   linux     { namespaces = { { type = "pid" }, ... }, cgroupsPath,
--               resources = { memory = { limit, swap }, cpu = { shares,
--               quota, period, cpus, mems }, pids = { limit } },
--               devices, maskedPaths, readonlyPaths, seccomp }
--   wbl       what the OCI config has no field for, wbl's own: image (a
--             store name or a tarball; it sets root.path when made), rm,
--             network, ports, interactive, volume_sources (host dirs to
--             make, as docker's -v does), swap_implicit (a swap limit the
--             user did not ask for: skipped without swap accounting)
--
-- Fields that hardening fills (capabilities, maskedPaths, readonlyPaths,
-- seccomp, rlimits, noNewPrivileges) have their defaults here, so every
-- front end gets the same container.
local M = {}

M.oci_version = "1.2.0"

M.default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

--- The mounts every container gets, in order (runc's `spec` has the same).
function M.default_mounts()
  return {
    { destination = "/proc", type = "proc", source = "proc", options = { "nosuid", "noexec", "nodev" } },
    { destination = "/sys", type = "sysfs", source = "sysfs", options = { "nosuid", "noexec", "nodev", "ro" } },
    { destination = "/dev", type = "tmpfs", source = "tmpfs",
      options = { "nosuid", "noexec", "mode=755", "size=65536k" } },
    { destination = "/dev/pts", type = "devpts", source = "devpts",
      options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
    { destination = "/dev/shm", type = "tmpfs", source = "shm",
      options = { "nosuid", "nodev", "noexec", "mode=1777", "size=65536k" } },
    { destination = "/tmp", type = "tmpfs", source = "tmpfs", options = { "nosuid", "nodev", "mode=1777" } },
    -- last: the container waits for the host's go before it (init.lua)
    { destination = "/sys/fs/cgroup", type = "cgroup", source = "cgroup",
      options = { "nosuid", "noexec", "nodev", "ro" } },
  }
end

--- The device nodes every container gets (the OCI default set).
function M.default_devices()
  local out = {}
  for _, d in ipairs { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
                       { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } } do
    out[#out + 1] = { path = "/dev/" .. d[1], type = "c", major = d[2], minor = d[3],
                      fileMode = 438, uid = 0, gid = 0 } -- 0666
  end
  return out
end

-- Confinement: docker's defaults -----------------------------------------

--- Every capability Linux has, in number order (CAP_CHOWN is 0).
M.all_capabilities = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

--- The capabilities a container's root keeps (docker's default 14).
M.default_capabilities = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

--- The process's capability sets for a list of names: bounding, permitted
-- and effective; inheritable and ambient empty (as docker since 23.0:
-- nothing is passed on through exec of a file with inheritable bits).
function M.capability_sets(names)
  local function copy() return table.move(names, 1, #names, 1, {}) end
  return { bounding = copy(), permitted = copy(), effective = copy(), inheritable = {}, ambient = {} }
end

--- Paths of /proc and /sys a container cannot read (docker's list): a
-- file gets /dev/null bound over it, a directory an empty read-only tmpfs.
M.default_masked_paths = {
  "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
  "/sys/devices/virtual/powercap",
}

--- Paths of /proc it can read but not write (docker's list).
M.default_readonly_paths = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/proc/asound",
}

--- The device cgroup rules: everything denied, then what may be opened
-- (linux.resources.devices, OCI's shape).  "c"/"b", major/minor (nil:
-- any), access r, w, m (mknod).
function M.default_device_rules()
  local function c(major, minor, access) return { allow = true, type = "c", major = major, minor = minor,
    access = access or "rwm" } end
  return {
    { allow = false, access = "rwm" },
    c(1, 3), c(1, 5), c(1, 7), c(1, 8), c(1, 9),   -- null zero full random urandom
    c(5, 0), c(5, 1), c(5, 2),                     -- tty console ptmx
    c(136, nil),                                   -- pts/*
    c(nil, nil, "m"), { allow = true, type = "b", access = "m" }, -- mknod, never open
  }
end

--- A spec with wbl's defaults; args, root.path, hostname and cgroupsPath
-- are the front end's to fill.
function M.new()
  return {
    ociVersion = M.oci_version,
    process = {
      terminal = false,
      user = { uid = 0, gid = 0, additionalGids = {} },
      args = {},
      env = { "PATH=" .. M.default_path },
      cwd = "/",
      noNewPrivileges = false,
      rlimits = {},
      capabilities = M.capability_sets(M.default_capabilities),
    },
    root = { readonly = false },
    mounts = M.default_mounts(),
    linux = {
      namespaces = { { type = "pid" }, { type = "ipc" }, { type = "uts" }, { type = "mount" },
                     { type = "network" }, { type = "cgroup" } },
      resources = { devices = M.default_device_rules() },
      devices = M.default_devices(),
      maskedPaths = table.move(M.default_masked_paths, 1, #M.default_masked_paths, 1, {}),
      readonlyPaths = table.move(M.default_readonly_paths, 1, #M.default_readonly_paths, 1, {}),
      sysctl = {},
    },
    annotations = {},
    wbl = { network = "none", ports = {} },
  }
end

-- Environment ------------------------------------------------------------

--- The value of KEY in an env list ("K=V" strings), or nil.
function M.getenv(env, key)
  for i = #env, 1, -1 do
    local k, v = env[i]:match("^([^=]*)=(.*)$")
    if k == key then return v end
  end
end

--- Set KEY=VALUE in an env list (replacing an earlier KEY).
function M.setenv(env, key, value)
  for i, kv in ipairs(env) do
    if kv:match("^([^=]*)=") == key then env[i] = key .. "=" .. value; return end
  end
  env[#env + 1] = key .. "=" .. value
end

-- Namespaces -------------------------------------------------------------

-- OCI namespace types -> the core's clone flag names.
local ns_flags = { pid = "pid", ipc = "ipc", uts = "uts", mount = "mnt", network = "net",
                   cgroup = "cgroup", user = "user", time = "time" }

--- Does the spec ask for a new namespace of type t?
function M.has_namespace(s, t)
  for _, n in ipairs(s.linux.namespaces) do
    if n.type == t then return true end
  end
  return false
end

--- The clone flags of the spec's new namespaces ("mnt,uts,..."): cgroup
-- only where the kernel has it; those with a path are joined instead.
function M.clone_flags(s, have_cgroup_ns)
  local out = {}
  for _, n in ipairs(s.linux.namespaces) do
    if not (n.type == "cgroup" and not have_cgroup_ns) and not n.path then out[#out + 1] = ns_flags[n.type] end
  end
  return table.concat(out, ",")
end

--- The path of the namespace of type t the spec joins (OCI's
-- linux.namespaces[i].path), or nil.
function M.joined(s, t)
  for _, n in ipairs(s.linux.namespaces) do
    if n.type == t and n.path then return n.path end
  end
end

--- In the child, first: join the namespaces the spec gives a path for,
-- but pid (a pid namespace is entered by the parent, for its next child:
-- wbl.container.clone).
function M.join_namespaces(s)
  for _, n in ipairs(s.linux.namespaces) do
    if n.path and n.type ~= "pid" then
      local ok, msg, en = require("wbl.core").ns.setns(n.path, ns_flags[n.type])
      if not ok then return nil, ("linux.namespaces %s: %s"):format(n.type, msg), en end
    end
  end
  return true
end

-- Validation ---------------------------------------------------------------

local function abs(p) return type(p) == "string" and p:sub(1, 1) == "/" end

local kinds = { proc = true, sysfs = true, cgroup = true, tmpfs = true, devpts = true, mqueue = true,
                bind = true }

--- Check a filled spec: what the library relies on, with the field named.
-- @return the spec, or nil, message, EINVAL
function M.check(s)
  local E = require("wbl.core").errno
  local function bad(field, msg) return nil, ("%s: %s"):format(field, msg), E.EINVAL end
  local p = s.process
  if type(p) ~= "table" then return bad("process", "missing") end
  if type(p.args) ~= "table" or type(p.args[1]) ~= "string" or p.args[1] == "" then
    return bad("process.args", "no command given")
  end
  if not abs(p.cwd) then return bad("process.cwd", "must be an absolute path") end
  for _, kv in ipairs(p.env) do
    if not kv:match("^[^=]+=") then return bad("process.env", ("%q is not KEY=VALUE"):format(kv)) end
  end
  if type(p.user.uid) ~= "number" or type(p.user.gid) ~= "number" then
    return bad("process.user", "uid and gid must be numbers")
  end
  if type(s.root) ~= "table" or not (abs(s.root.path) or (s.wbl and s.wbl.image)) then
    return bad("root.path", "must be an absolute path")
  end
  if s.hostname and (#s.hostname == 0 or #s.hostname > 64) then
    return bad("hostname", "must be 1 to 64 characters")
  end
  for i, m in ipairs(s.mounts) do
    if not abs(m.destination) then return bad(("mounts[%d].destination"):format(i), "must be an absolute path") end
    if not kinds[m.type] then
      return bad(("mounts[%d].type"):format(i), ("%s is not one wbl mounts"):format(tostring(m.type)))
    end
  end
  for i, n in ipairs(s.linux.namespaces) do
    if not ns_flags[n.type] then return bad(("linux.namespaces[%d]"):format(i), "unknown type " .. tostring(n.type)) end
    if n.path and not abs(n.path) then
      return bad(("linux.namespaces[%d].path"):format(i), "must be an absolute path")
    end
    if n.path and n.type == "user" then
      return bad(("linux.namespaces[%d].path"):format(i), "joining a user namespace is not supported")
    end
  end
  local mem = s.linux.resources.memory
  if mem and mem.swap and mem.swap ~= -1 and mem.limit and mem.swap < mem.limit then
    return bad("linux.resources.memory.swap", "must be at least the limit (it is memory plus swap)")
  end
  return s
end

return M
