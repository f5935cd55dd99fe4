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
    { destination = "/sys/fs/cgroup", type = "cgroup", source = "cgroup",
      options = { "nosuid", "noexec", "nodev", "ro" } },
    { destination = "/dev", type = "tmpfs", source = "tmpfs",
      options = { "nosuid", "noexec", "mode=755", "size=65536k" } },
    { destination = "/dev/pts", type = "devpts", source = "devpts",
      options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
    { destination = "/dev/shm", type = "tmpfs", source = "shm",
      options = { "nosuid", "nodev", "noexec", "mode=1777", "size=65536k" } },
    { destination = "/tmp", type = "tmpfs", source = "tmpfs", options = { "nosuid", "nodev", "mode=1777" } },
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
    },
    root = { readonly = false },
    mounts = M.default_mounts(),
    linux = {
      namespaces = { { type = "pid" }, { type = "ipc" }, { type = "uts" }, { type = "mount" },
                     { type = "network" }, { type = "cgroup" } },
      resources = {},
      devices = M.default_devices(),
      maskedPaths = {},
      readonlyPaths = {},
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
-- only where the kernel has it.
function M.clone_flags(s, have_cgroup_ns)
  local out = {}
  for _, n in ipairs(s.linux.namespaces) do
    if not (n.type == "cgroup" and not have_cgroup_ns) then out[#out + 1] = ns_flags[n.type] end
  end
  return table.concat(out, ",")
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
    if n.path then return bad(("linux.namespaces[%d].path"):format(i), "joining a namespace is not supported yet") end
  end
  local mem = s.linux.resources.memory
  if mem and mem.swap and mem.swap ~= -1 and mem.limit and mem.swap < mem.limit then
    return bad("linux.resources.memory.swap", "must be at least the limit (it is memory plus swap)")
  end
  return s
end

return M
