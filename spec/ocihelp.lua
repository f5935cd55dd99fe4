-- spec/ocihelp.lua: OCI bundles made from rootfs/busybox, and a runtime's
-- command line, for oci_spec, oci_conformance_spec and podman_spec.
--
--   local O = require "ocihelp"
--   local b = O.bundle { process = { args = { "true" } } }   -- a temp dir
--   O.rt(b, "create", "--bundle", b.dir, id)   -- wbl-oci --root b.root ...
--   b:remove()
local core = require "wbl.core"
local util = require "wbl.util"
local json = require "dkjson"
local fs = core.fs

local O = {}

O.wbl_oci = H.top .. "/build/wbl-oci"

local function arr(t) return setmetatable(t, { __jsontype = "array" }) end
local function obj(t) return setmetatable(t, { __jsontype = "object" }) end
O.arr, O.obj = arr, obj

O.caps = arr { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID",
               "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_MKNOD", "CAP_SYS_CHROOT", "CAP_SETPCAP", "CAP_FSETID" }

--- A config.json as runc's `spec` makes it (namespaces, the usual
-- mounts, masked and read-only paths), with cgroupsPath wbl-oci-spec/ID.
function O.config(id, args)
  local function copy(t) return arr(table.move(t, 1, #t, 1, {})) end
  return {
    ociVersion = "1.0.2",
    process = {
      terminal = false, user = { uid = 0, gid = 0 }, args = arr(args or { "true" }),
      env = arr { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" },
      cwd = "/",
      capabilities = { bounding = copy(O.caps), effective = copy(O.caps), permitted = copy(O.caps) },
      rlimits = arr { { type = "RLIMIT_NOFILE", hard = 1024, soft = 1024 } },
      noNewPrivileges = true,
    },
    root = { path = "rootfs", readonly = false },
    hostname = "ocispec",
    mounts = arr {
      { destination = "/proc", type = "proc", source = "proc" },
      { destination = "/dev", type = "tmpfs", source = "tmpfs", options = arr { "nosuid", "strictatime", "mode=755",
        "size=65536k" } },
      { destination = "/dev/pts", type = "devpts", source = "devpts", options = arr { "nosuid", "noexec",
        "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
      { destination = "/dev/shm", type = "tmpfs", source = "shm", options = arr { "nosuid", "noexec", "nodev",
        "mode=1777", "size=65536k" } },
      { destination = "/dev/mqueue", type = "mqueue", source = "mqueue", options = arr { "nosuid", "noexec",
        "nodev" } },
      { destination = "/sys", type = "sysfs", source = "sysfs", options = arr { "nosuid", "noexec", "nodev", "ro" } },
      { destination = "/sys/fs/cgroup", type = "cgroup", source = "cgroup", options = arr { "nosuid", "noexec",
        "nodev", "relatime", "ro" } },
    },
    linux = {
      cgroupsPath = "/wbl-oci-spec/" .. id,
      resources = { devices = arr { { allow = false, access = "rwm" } } },
      namespaces = arr { { type = "pid" }, { type = "network" }, { type = "ipc" }, { type = "uts" },
                         { type = "mount" }, { type = "cgroup" } },
      maskedPaths = arr { "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" },
      readonlyPaths = arr { "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
        "/proc/sysrq-trigger" },
    },
  }
end

-- Merge over into base (objects key by key; lists and values replace).
local function merge(base, over)
  for k, v in pairs(over) do
    local m = getmetatable(v)
    if type(v) == "table" and type(base[k]) == "table" and not (m and m.__jsontype == "array") and v ~= json.null
        and not v[1] then
      merge(base[k], v)
    elseif v == json.null then
      base[k] = nil
    else
      base[k] = v
    end
  end
  return base
end
O.merge = merge

local Bundle = {}
Bundle.__index = Bundle

--- A bundle in a new temp dir: rootfs (a copy of the busybox root),
-- config.json (O.config merged with over; fn(cfg) may change it more),
-- and root, a state root of its own.  b.id: a unique container id.
function O.bundle(over, fn)
  local dir = H.tmpdir()
  local b = setmetatable({ dir = dir, root = dir .. "/state", id = "oci-" .. util.random_hex(4) }, Bundle)
  assert(os.execute("cp -a " .. H.q(H.rootfs) .. " " .. H.q(dir .. "/rootfs")))
  b.cfg = merge(O.config(b.id), over or {})
  if fn then fn(b.cfg, b) end
  b:write()
  return b
end

function Bundle:write()
  assert(fs.write_file(self.dir .. "/config.json", json.encode(self.cfg, { indent = true })))
end

--- Run the runtime (wbl-oci, or O.runtime(b) for another) on this bundle's
-- state root: stdout, stderr, status.  Output of a container it makes
-- goes to files (out: self.dir/out) so that nothing waits for it.
function Bundle:rt(...)
  local parts = { H.q(self.runtime or O.wbl_oci), "--root", H.q(self.root) }
  for _, a in ipairs({ ... }) do parts[#parts + 1] = H.q(a) end
  return H.sh(table.concat(parts, " ") .. " </dev/null")
end

--- The same, the container's stdout and stderr to self.dir/out (create, run -d).
function Bundle:rt_bg(...)
  local parts = { H.q(self.runtime or O.wbl_oci), "--root", H.q(self.root) }
  for _, a in ipairs({ ... }) do parts[#parts + 1] = H.q(a) end
  local errf = self.dir .. "/err"
  local line = table.concat(parts, " ") .. " </dev/null >>" .. H.q(self.dir .. "/out") .. " 2>" .. H.q(errf)
  local ok, _, code = os.execute(line)
  local err = fs.read_file(errf) or ""
  return ok and 0 or code, err
end

--- What the container wrote so far (rt_bg).
function Bundle:out() return fs.read_file(self.dir .. "/out") or "" end

--- The state JSON, decoded (nil, stderr when there is none).
function Bundle:state(id)
  local out, err, code = self:rt("state", id or self.id)
  if code ~= 0 then return nil, err end
  return json.decode(out, 1, nil)
end

--- Wait until pred() (polling every 20 ms, at most ms).
function O.eventually(pred, ms)
  for _ = 1, (ms or 10000) // 20 do
    if pred() then return true end
    util.sleep_ms(20)
  end
  return pred()
end

--- Delete every container of the bundle's root (forced), remove the dir.
function Bundle:remove()
  local out = self:rt("list", "-q")
  for id in out:gmatch("%S+") do self:rt("delete", "--force", id) end
  util.rm_rf(self.dir)
end

--- The container's cgroup directories that exist (every hierarchy).
function O.cgroup_dirs(path)
  local out = {}
  for _, h in ipairs(fs.readdir("/sys/fs/cgroup") or {}) do
    local d = "/sys/fs/cgroup/" .. h .. path
    if fs.stat(d) then out[#out + 1] = d end
  end
  if fs.stat("/sys/fs/cgroup" .. path) then out[#out + 1] = "/sys/fs/cgroup" .. path end
  return out
end

return O
