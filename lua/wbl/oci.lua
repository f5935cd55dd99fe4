--- The OCI front end: an OCI bundle's config.json into a container spec
-- (wbl.spec: shaped like that config, so this is mostly checking and
-- copying), and what an OCI runtime's commands need around the one
-- lifecycle (scripts/oci.lua): the created state, held by an exec fifo as
-- runc and crun hold it; the state JSON; --console-socket.
--
-- A container made here is made by the same steps as run.lua's
-- (scripts/create.lua, init.lua, process.lua); what differs is data in
-- the spec and the container table:
--   s.wbl.in_place     the bundle's root is used as it is (its caller made
--                      it: podman's overlay), no layer of wbl's own
--   s.wbl.etc_files    false: no /etc/hosts, hostname, resolv.conf of
--                      wbl's (the caller's mounts bring them)
--   s.wbl.exact_caps   the capability sets as listed, for any uid
--   s.wbl.network      "none": the caller gives a network namespace path
--   c.oci              { bundle, created, fifo, preserve_fds }: reap
--                      leaves such a container alone (its caller deletes it)
--   c._spawn           survive (no pdeathsig: create exits, conmon is the
--                      parent), report (errors back to create, not stderr)
--   c._await_start     process.lua's last step before the command: say
--                      ready, wait on the exec fifo until `start`
--   c._console         --console-socket: the pty master goes there
local core = require "wbl.core"
local spec = require "wbl.spec"
local util = require "wbl.util"
local fs, E = core.fs, core.errno

local M = {}

--- The default state root of the OCI runtime (runc's is /run/runc).
M.default_root = "/run/wbl-oci"

-- Checking config.json -------------------------------------------------------

local Invalid = {}

local function bad(path, msg)
  error(setmetatable({ msg = ("%s: %s"):format(path, msg) }, Invalid), 0)
end

-- What JSON kind a decoded value is (dkjson marks arrays and objects).
local function kind(v)
  local t = type(v)
  if t == "table" then
    local m = getmetatable(v)
    return m and m.__jsontype or "object"
  end
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  return t
end

local names = { string = "a string", integer = "an integer", number = "a number", boolean = "true or false",
                array = "a list", object = "an object" }

-- v as kind k (nil stays nil); anything else names path.
local function want(v, k, path)
  if v == nil then return nil end
  local got = kind(v)
  if got == k or (k == "number" and got == "integer") then return v end
  if k == "integer" and got == "number" and math.tointeger(v) then return math.tointeger(v) end
  bad(path, ("must be %s, not %s"):format(names[k], names[got] or got))
end

local function need(v, k, path)
  if v == nil then bad(path, "missing") end
  return want(v, k, path)
end

-- A list of strings (nil: an empty list).
local function strings(v, path)
  local out = {}
  for i, x in ipairs(want(v, "array", path) or {}) do out[i] = want(x, "string", ("%s[%d]"):format(path, i - 1)) end
  return out
end

local function map_of_strings(v, path)
  local out = {}
  for k, x in pairs(want(v, "object", path) or {}) do out[k] = want(x, "string", path .. "." .. k) end
  return out
end

local function absolute(v, path)
  if v and v:sub(1, 1) ~= "/" then bad(path, ("%q is not an absolute path"):format(v)) end
  return v
end

local function in_bundle(bundle, p)
  if p:sub(1, 1) == "/" then return p end
  return util.join(bundle, p)
end

local function process(p, path)
  need(p, "object", path)
  local out = {}
  out.args = strings(need(p.args, "array", path .. ".args"), path .. ".args")
  if #out.args == 0 or out.args[1] == "" then bad(path .. ".args", "no command given") end
  out.env = strings(p.env, path .. ".env")
  for i, kv in ipairs(out.env) do
    if not kv:match("^[^=]+=") then bad(("%s.env[%d]"):format(path, i - 1), ("%q is not KEY=VALUE"):format(kv)) end
  end
  out.cwd = absolute(need(p.cwd, "string", path .. ".cwd"), path .. ".cwd")
  out.terminal = want(p.terminal, "boolean", path .. ".terminal") or false
  local cs = want(p.consoleSize, "object", path .. ".consoleSize")
  if cs then
    out.consoleSize = { height = need(cs.height, "integer", path .. ".consoleSize.height"),
                        width = need(cs.width, "integer", path .. ".consoleSize.width") }
  end
  local u = need(p.user, "object", path .. ".user")
  out.user = { uid = need(u.uid, "integer", path .. ".user.uid"), gid = need(u.gid, "integer", path .. ".user.gid"),
               umask = want(u.umask, "integer", path .. ".user.umask"), additionalGids = {} }
  for i, g in ipairs(want(u.additionalGids, "array", path .. ".user.additionalGids") or {}) do
    out.user.additionalGids[i] = want(g, "integer", ("%s.user.additionalGids[%d]"):format(path, i - 1))
  end
  local caps = want(p.capabilities, "object", path .. ".capabilities")
  if caps then
    out.capabilities = {}
    local known = {}
    for _, n in ipairs(core.caps.names) do known[n] = true end
    for _, set in ipairs { "bounding", "effective", "inheritable", "permitted", "ambient" } do
      local where = path .. ".capabilities." .. set
      out.capabilities[set] = strings(caps[set], where)
      for i, n in ipairs(out.capabilities[set]) do
        if not known[n] then bad(("%s[%d]"):format(where, i - 1), "unknown capability " .. n) end
      end
    end
  end
  out.rlimits = {}
  for i, r in ipairs(want(p.rlimits, "array", path .. ".rlimits") or {}) do
    local where = ("%s.rlimits[%d]"):format(path, i - 1)
    need(r, "object", where)
    local t = need(r.type, "string", where .. ".type")
    if not t:match("^RLIMIT_%u+$") then bad(where .. ".type", "not an RLIMIT_ name: " .. t) end
    out.rlimits[i] = { type = t, soft = need(r.soft, "integer", where .. ".soft"),
                       hard = need(r.hard, "integer", where .. ".hard") }
  end
  out.noNewPrivileges = want(p.noNewPrivileges, "boolean", path .. ".noNewPrivileges") or false
  local oom = want(p.oomScoreAdj, "integer", path .. ".oomScoreAdj")
  if oom and (oom < -1000 or oom > 1000) then bad(path .. ".oomScoreAdj", "must be -1000 to 1000") end
  out.oomScoreAdj = oom
  return out
end
M.process = process

-- OCI mount types -> wbl's kinds (spec.check names what it cannot mount).
local function mount(m, i, bundle)
  local where = ("mounts[%d]"):format(i - 1)
  need(m, "object", where)
  local out = {
    destination = absolute(need(m.destination, "string", where .. ".destination"), where .. ".destination"),
    type = want(m.type, "string", where .. ".type"),
    source = want(m.source, "string", where .. ".source"),
    options = strings(m.options, where .. ".options"),
  }
  for _, o in ipairs(out.options) do
    if o == "bind" or o == "rbind" then out.type = "bind" end
  end
  if out.type == "cgroup2" then out.type = "cgroup" end
  if out.type == nil or out.type == "none" then bad(where .. ".type", "missing (and no bind option)") end
  if out.type == "bind" then
    out.source = in_bundle(bundle, need(out.source, "string", where .. ".source"))
  end
  return out
end

local ns_types = { pid = true, network = true, mount = true, ipc = true, uts = true, user = true, cgroup = true,
                   time = true }

local function hooks(h)
  want(h, "object", "hooks")
  if not h then return nil end
  local out = {}
  for _, kind_ in ipairs { "prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                           "poststop" } do
    local list = {}
    for i, x in ipairs(want(h[kind_], "array", "hooks." .. kind_) or {}) do
      local where = ("hooks.%s[%d]"):format(kind_, i - 1)
      need(x, "object", where)
      local t = want(x.timeout, "integer", where .. ".timeout")
      if t and t <= 0 then bad(where .. ".timeout", "must be more than 0") end
      list[i] = { path = absolute(need(x.path, "string", where .. ".path"), where .. ".path"),
                  args = x.args and strings(x.args, where .. ".args") or nil,
                  env = strings(x.env, where .. ".env"), timeout = t }
    end
    out[kind_] = list
  end
  return out
end

local function resources(r)
  local R = "linux.resources"
  want(r, "object", R)
  local out = {}
  if not r then return out end
  local mem = want(r.memory, "object", R .. ".memory")
  if mem then
    local function n(k)
      local v = want(mem[k], "integer", R .. ".memory." .. k)
      if v and v < -1 then bad(R .. ".memory." .. k, "must be positive or -1") end
      return v
    end
    out.memory = { limit = n("limit"), reservation = n("reservation"), swap = n("swap") }
    if out.memory.limit == -1 then out.memory.limit = nil end
    if out.memory.reservation == -1 then out.memory.reservation = nil end
    if out.memory.swap and not out.memory.limit then out.memory.swap = nil end -- nothing to add it to
  end
  local cpu = want(r.cpu, "object", R .. ".cpu")
  if cpu then
    local C = R .. ".cpu."
    out.cpu = { shares = want(cpu.shares, "integer", C .. "shares"), quota = want(cpu.quota, "integer", C .. "quota"),
                period = want(cpu.period, "integer", C .. "period"), cpus = want(cpu.cpus, "string", C .. "cpus"),
                mems = want(cpu.mems, "string", C .. "mems") }
    if out.cpu.shares == 0 then out.cpu.shares = nil end
    if out.cpu.cpus == "" then out.cpu.cpus = nil end
    if out.cpu.mems == "" then out.cpu.mems = nil end
  end
  local pids = want(r.pids, "object", R .. ".pids")
  if pids then out.pids = { limit = need(pids.limit, "integer", R .. ".pids.limit") } end
  if r.devices then
    out.devices = {}
    for i, d in ipairs(want(r.devices, "array", R .. ".devices")) do
      local where = ("%s.devices[%d]"):format(R, i - 1)
      need(d, "object", where)
      local t = want(d.type, "string", where .. ".type")
      if t and t ~= "a" and t ~= "c" and t ~= "b" then bad(where .. ".type", "must be a, c or b") end
      local access = want(d.access, "string", where .. ".access") or "rwm"
      if not access:match("^[rwm]*$") then bad(where .. ".access", "letters r, w, m only") end
      out.devices[i] = { allow = need(d.allow, "boolean", where .. ".allow"), type = t ~= "a" and t or nil,
                         major = want(d.major, "integer", where .. ".major"),
                         minor = want(d.minor, "integer", where .. ".minor"), access = access }
      if out.devices[i].major == -1 then out.devices[i].major = nil end
      if out.devices[i].minor == -1 then out.devices[i].minor = nil end
    end
  end
  if r.unified then out.unified = map_of_strings(r.unified, R .. ".unified") end
  return out
end
M.resources = resources

-- The device rules: all denied, the config's, then the nodes every
-- container may use (runc's and crun's rule: appended at the end).
local function device_rules(rules)
  local out = { { allow = false, access = "rwm" } }
  for _, r in ipairs(rules or {}) do out[#out + 1] = r end
  local defaults = spec.default_device_rules()
  for i = 2, #defaults do out[#out + 1] = defaults[i] end
  return out
end

local function linux(l, s, id)
  want(l, "object", "linux")
  l = l or {}
  local out = s.linux
  out.namespaces = {}
  for i, n in ipairs(want(l.namespaces, "array", "linux.namespaces") or {}) do
    local where = ("linux.namespaces[%d]"):format(i - 1)
    need(n, "object", where)
    local t = need(n.type, "string", where .. ".type")
    if not ns_types[t] then bad(where .. ".type", "unknown namespace type " .. t) end
    out.namespaces[i] = { type = t, path = absolute(want(n.path, "string", where .. ".path"), where .. ".path") }
  end
  for _, k in ipairs { "uidMappings", "gidMappings" } do
    for i, m in ipairs(want(l[k], "array", "linux." .. k) or {}) do
      local where = ("linux.%s[%d]"):format(k, i - 1)
      need(m, "object", where)
      out[k] = out[k] or {}
      out[k][i] = { containerID = need(m.containerID, "integer", where .. ".containerID"),
                    hostID = need(m.hostID, "integer", where .. ".hostID"),
                    size = need(m.size, "integer", where .. ".size") }
    end
  end
  out.resources = resources(l.resources)
  out.resources.devices = device_rules(out.resources.devices)
  local cg = want(l.cgroupsPath, "string", "linux.cgroupsPath")
  if cg and cg:find(":", 1, true) then
    bad("linux.cgroupsPath", ("%q is systemd's slice:prefix:name form; wbl has no systemd cgroup driver " ..
      "(use cgroupfs: podman --cgroup-manager cgroupfs)"):format(cg))
  end
  if cg == "" then cg = nil end
  out.cgroupsPath = cg or ("/wbl-oci/" .. id)
  -- the default nodes, then the config's (by path: the config wins)
  out.devices = spec.default_devices()
  local at = {}
  for i, d in ipairs(out.devices) do at[d.path] = i end
  for i, d in ipairs(want(l.devices, "array", "linux.devices") or {}) do
    local where = ("linux.devices[%d]"):format(i - 1)
    need(d, "object", where)
    local t = need(d.type, "string", where .. ".type")
    if t == "u" then t = "c" end
    if t ~= "c" and t ~= "b" and t ~= "p" then bad(where .. ".type", "must be c, u, b or p") end
    local node = { path = absolute(need(d.path, "string", where .. ".path"), where .. ".path"), type = t,
                   major = t ~= "p" and need(d.major, "integer", where .. ".major") or 0,
                   minor = t ~= "p" and need(d.minor, "integer", where .. ".minor") or 0,
                   fileMode = want(d.fileMode, "integer", where .. ".fileMode") or 438,
                   uid = want(d.uid, "integer", where .. ".uid") or 0,
                   gid = want(d.gid, "integer", where .. ".gid") or 0 }
    local j = at[node.path] or #out.devices + 1
    out.devices[j], at[node.path] = node, j
  end
  out.maskedPaths = strings(l.maskedPaths, "linux.maskedPaths")
  out.readonlyPaths = strings(l.readonlyPaths, "linux.readonlyPaths")
  out.sysctl = map_of_strings(l.sysctl, "linux.sysctl")
  local sc = want(l.seccomp, "object", "linux.seccomp")
  if sc then
    need(sc.defaultAction, "string", "linux.seccomp.defaultAction")
    if sc.listenerPath and sc.listenerPath ~= "" then
      bad("linux.seccomp.listenerPath", "seccomp notification (SCMP_ACT_NOTIFY) is not supported")
    end
    for i, sys in ipairs(want(sc.syscalls, "array", "linux.seccomp.syscalls") or {}) do
      local where = ("linux.seccomp.syscalls[%d]"):format(i - 1)
      need(sys, "object", where)
      strings(need(sys.names, "array", where .. ".names"), where .. ".names")
      need(sys.action, "string", where .. ".action")
      if sys.action == "SCMP_ACT_NOTIFY" then bad(where .. ".action", "SCMP_ACT_NOTIFY is not supported") end
    end
    out.seccomp = sc
  end
  local prop = want(l.rootfsPropagation, "string", "linux.rootfsPropagation")
  local props = { private = true, rprivate = true, slave = true, rslave = true, shared = true, rshared = true,
                  unbindable = true, runbindable = true }
  if prop and prop ~= "" and not props[prop] then
    bad("linux.rootfsPropagation", prop .. " is not one of private, slave, shared, unbindable (r...)")
  end
  out.rootfsPropagation = prop ~= "" and prop or nil
end

local function convert(cfg, bundle, id)
  need(cfg, "object", "config.json")
  local s = {
    ociVersion = want(cfg.ociVersion, "string", "ociVersion") or spec.oci_version,
    process = process(cfg.process, "process"),
    mounts = {},
    linux = {},
    annotations = map_of_strings(cfg.annotations, "annotations"),
    hooks = hooks(cfg.hooks),
    wbl = { network = "none", ports = {}, in_place = true, etc_files = false, exact_caps = true,
            interactive = true, devices = {}, volume_sources = {}, hooks = {}, oci = true },
  }
  local root = need(cfg.root, "object", "root")
  s.root = { path = in_bundle(bundle, need(root.path, "string", "root.path")),
             readonly = want(root.readonly, "boolean", "root.readonly") or false }
  s.hostname = want(cfg.hostname, "string", "hostname")
  if s.hostname == "" then s.hostname = nil end
  s.domainname = want(cfg.domainname, "string", "domainname")
  if s.domainname == "" then s.domainname = nil end
  for i, m in ipairs(want(cfg.mounts, "array", "mounts") or {}) do s.mounts[i] = mount(m, i, bundle) end
  linux(cfg.linux, s, id)
  -- a hostname needs a UTS namespace of its own (runc refuses it too)
  if s.hostname and not spec.has_namespace(s, "uts") then
    bad("hostname", "needs a new uts namespace (linux.namespaces)")
  end
  return s
end

--- The spec of an OCI config (decoded config.json), its relative paths
-- taken from bundle (an absolute path), for container id.
-- @return spec, or nil, "JSON.path: what is wrong", EINVAL
function M.spec(cfg, bundle, id)
  local ok, s = pcall(convert, cfg, bundle, id)
  if not ok then
    if getmetatable(s) == Invalid then return nil, s.msg, E.EINVAL end
    error(s, 0)
  end
  local msg, en
  s, msg, en = spec.check(s)
  if not s then return nil, msg, en end
  return s
end

--- Read and decode BUNDLE/config.json.
function M.read_config(bundle)
  local file = util.join(bundle, "config.json")
  local text, msg, en = fs.read_file(file)
  if not text then return nil, msg, en end
  local json = require "dkjson"
  local cfg, pos, err = json.decode(text, 1, nil)
  if err then return nil, ("%s: not JSON: %s (at byte %d)"):format(file, err, pos or 0), E.EINVAL end
  return cfg
end

-- The created state ----------------------------------------------------------

--- An OCI container's id: what a state directory may be named.
function M.check_id(id)
  if type(id) ~= "string" or id == "" or #id > 1024 or id == "." or id == ".." or id:find("/", 1, true)
      or not id:match("^[%w_%.%-+]+$") then
    return nil, ("%q is not a valid container id (letters, digits, _ . - +)"):format(tostring(id)), E.EINVAL
  end
  return id
end

--- RFC 3339 time, nanoseconds, UTC (now).
function M.now()
  local ns = core.realtime_ns()
  return os.date("!%Y-%m-%dT%H:%M:%S", ns // 1000000000) .. ("." .. ("%09d"):format(ns % 1000000000)) .. "Z"
end

-- The child's error report: to create over a pipe until it is ready,
-- to stderr after (the command's own errors).
local Report = {}
Report.__index = Report
function Report:write(s)
  if self.w then self.w:write("error " .. s) else io.stderr:write("wbl: ", s, "\n") end
  return true
end

--- Host side, before create.lua: the state directory, the exec fifo
-- (held open as an O_PATH fd, which the child reopens for writing: that
-- open blocks until `start` opens it for reading), and the pipe the child
-- says ready (or its error) on.  o: { preserve_fds, console_socket }.
function M.prepare(c, o)
  local state = require "wbl.state"
  local ok, msg, en = state.create(c)
  if not ok then return nil, msg, en end
  local fifo = c.state_dir .. "/exec.fifo"
  local old = fs.umask(0)
  ok, msg, en = fs.mknod(fifo, "p", 0, 0, "0622")
  fs.umask(old)
  if not ok then return nil, msg, en end
  c.oci.fifo = fifo
  c._fifo, msg, en = core.fd.open(fifo, "path")
  if not c._fifo then return nil, msg, en end
  local r, w
  r, w, en = core.fd.pipe()
  if not r then return nil, w, en end
  c._ready = r
  c._report = setmetatable({ w = w }, Report)
  c._spawn = { survive = o.survive, report = c._report }
  c._await_start = M.await_start
  c.oci.preserve_fds = o.preserve_fds or 0
  if o.console_socket then
    local t
    t, msg, en = M.console(o.console_socket, c.spec.process.consoleSize)
    if not t then return nil, msg, en end
    c._console = { listen = function() return t end }
  end
  return state.save(c)
end

--- --console-socket: a terminal whose master goes to the unix socket at
-- path (SOCK_STREAM, as conmon listens), in wbl.tty's shape (init.lua's
-- tty.attach sends the master over t.peer).
function M.console(path, size)
  local tty = require "wbl.tty"
  local sock, msg, en = core.sock.connect(path)
  if not sock then return nil, ("--console-socket %s"):format(msg), en end
  local null, t
  null, msg, en = core.fd.open("/dev/null", "rdwr")
  if null then t, msg, en = tty.new(false, null, null) end -- (no caller's terminal to take a size from)
  if null then null:close() end
  if not t then sock:close(); return nil, msg, en end
  t.peer:close()
  t.peer = sock
  t.rows, t.cols = 24, 80
  if size then t.rows, t.cols = size.height, size.width end
  return t
end

-- Is file (args[1]) a command the container can run?  runc looks before
-- it says ready, so a missing one fails create (and podman says 127).
local function lookup(args, env)
  local file = args[1]
  local function ok(path)
    local st = fs.stat(path)
    return st and st.type ~= "directory"
  end
  if file:find("/", 1, true) then
    if ok(file) then return true end
    return nil, ("%s: no such file or directory"):format(file), E.ENOENT, 127
  end
  local path = spec.getenv(env or {}, "PATH") or spec.default_path
  for dir in path:gmatch("[^:]+") do
    if ok(dir .. "/" .. file) then return true end
  end
  return nil, ("%s: executable file not found in $PATH"):format(file), E.ENOENT, 127
end

--- Container side, process.lua's step before the command: it exists;
-- ready (create returns); wait for `start` (the fifo opens once start
-- opens it to read; one byte tells start we are past it); fds beyond
-- 2 + --preserve-fds are closed at exec.
function M.await_start(c, p)
  local ok, msg, en, code = lookup(p.args, p.env)
  if not ok then return nil, msg, en, code end
  local r = c._report
  r.w:write("ready")
  r.w:close()
  r.w = nil
  local f
  f, msg, en = core.fd.open("/proc/self/fd/" .. c._fifo:fileno(), "wronly")
  if not f then return nil, msg, en end
  ok, msg, en = f:write("0")
  f:close()
  c._fifo:close()
  if not ok then return nil, msg, en end
  return core.proc.cloexec_from(3 + (c.oci.preserve_fds or 0))
end

--- Host side, after create.lua: let the child go and wait until it is
-- ready (or failed: its message, and it is reaped).
function M.await_ready(c)
  c._report.w:close() -- the child's copy is the one that matters
  c._report.w = nil
  local ok, msg, en = c._child:go()
  if not ok then return nil, msg, en end
  local said = {}
  while true do
    local s = c._ready:read(65536)
    if not s or s == "" then break end
    said[#said + 1] = s
  end
  c._ready:close()
  said = table.concat(said)
  if said == "ready" then return true end
  local _, how, code = core.proc.waitpid(c.pid)
  c._child.status = { how, code }
  if said ~= "" then return nil, (said:gsub("^error ", "")) end
  return nil, ("the container's process ended before it was ready (%s %s)"):format(tostring(how), tostring(code)),
    E.ECHILD
end

--- The status the OCI state gives: creating, created, running, paused, stopped.
function M.status(c)
  local state = require "wbl.state"
  if c.status == "creating" then return state.owned(c) and "creating" or "stopped" end
  if not state.running(c) then return "stopped" end
  if c.cgroup and require("wbl.cgroup").frozen(c.cgroup) then return "paused" end
  if c.oci and c.oci.fifo and util.exists(c.oci.fifo) then return "created" end
  return "running"
end

--- The state JSON of `state ID` (the runtime spec's, and runc's extras).
function M.state_json(c)
  local json = require "dkjson"
  local status = M.status(c)
  local ann = setmetatable({}, { __jsontype = "object" })
  for k, v in pairs(c.spec.annotations or {}) do ann[k] = v end
  return json.encode({
    ociVersion = c.spec.ociVersion, id = c.id, status = status,
    pid = status ~= "stopped" and c.pid or 0, bundle = c.oci.bundle, rootfs = c.spec.root.path,
    created = c.oci.created, owner = "", annotations = ann,
  }, { indent = true, keyorder = { "ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner",
                                   "annotations" } })
end

--- `start`: open the exec fifo to read (the child's open for writing
-- then returns), read the byte it writes, remove the fifo.  Fails when
-- the container's process has ended meanwhile.
function M.start(c)
  local state = require "wbl.state"
  local f, msg, en = core.fd.open(c.oci.fifo, "rdonly,nonblock")
  if not f then return nil, msg, en end
  while true do
    if f:wait(50) then
      local b = f:read(1)
      if b and b ~= "" then break end
    end
    if not state.running(c) then
      f:close()
      return nil, "the container's process ended before it started", E.ESRCH
    end
  end
  f:close()
  fs.unlink(c.oci.fifo)
  c.status, c.started = "running", os.time()
  return state.save(c)
end

-- exec ---------------------------------------------------------------------------

--- A process p (config.json's process shape) in the running container c,
-- as `exec` runs it: wbl.exec's (the container's namespaces, cgroups and
-- root joined, then process.lua's steps with the container's spec: its
-- seccomp profile, no_new_privs, capabilities), with OCI's stdio (the
-- caller's, kept with --detach: conmon's pipes) and --console-socket.
-- o: { detach, pid_file, console_socket, preserve_fds, here (scripts) }.
-- Errors before the command runs come back.
-- @return the process's exit status (detach: 0 once it runs), or nil,
--   message, errno, status
function M.exec(c, p, o)
  local exec = require "wbl.exec"
  local tail, err = loadfile(o.here .. "/process.lua")
  if not tail then return nil, err, E.ENOENT end
  -- what process.lua uses, loaded while the host's files are in reach
  for _, m in ipairs { "errors", "rootfs", "caps", "seccomp", "users", "proc", "hooks", "spec", "util", "tty" } do
    require("wbl." .. m)
  end
  -- the container's seccomp filter, compiled here: the process only loads it
  if c.spec.linux.seccomp then
    local bpf, why, e = require("wbl.seccomp").compile(c.spec.linux.seccomp)
    if not bpf then return nil, "seccomp filter: " .. why, e end
  end
  local t, msg, en
  if o.console_socket then
    t, msg, en = M.console(o.console_socket, p.consoleSize)
    if not t then return nil, msg, en end
  end
  local job, status
  job, msg, en, status = exec.start(c, c.spec, p, tail, { tty = t, interactive = true, detach = o.detach,
                                                         keep_stdio = true, preserve_fds = o.preserve_fds })
  if t then t:close() end -- (the master went to the console socket)
  if not job then return nil, msg, en, status end
  job.tty = nil
  if o.pid_file then
    local ok
    ok, msg, en = util.replace_file(o.pid_file, tostring(job.pid), "0644")
    if not ok then return nil, msg, en end
  end
  if o.detach then return 0 end
  return job:wait()
end

--- The features document (runtime-spec features.md): what this runtime
-- knows of a config.
function M.features()
  local json = require "dkjson"
  local caps = {}
  for _, n in ipairs(core.caps.names) do caps[#caps + 1] = n end
  local function list(t) return setmetatable(t, { __jsontype = "array" }) end
  return json.encode({
    ociVersionMin = "1.0.0",
    ociVersionMax = spec.oci_version,
    hooks = list { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" },
    mountOptions = list { "bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
      "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable", "relatime",
      "strictatime", "noatime", "nodiratime" },
    linux = {
      namespaces = list { "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time" },
      capabilities = list(caps),
      cgroup = { v1 = true, v2 = true, systemd = false, systemdUser = false, rdma = false },
      seccomp = { enabled = true, actions = list { "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG" },
        operators = list { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
          "SCMP_CMP_MASKED_EQ" },
        archs = list { "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" } },
      apparmor = { enabled = false }, selinux = { enabled = false },
    },
    annotations = { ["org.opencontainers.runc.checkpoint.enabled"] = "false",
                    ["io.github.wbl.version"] = core.version },
  }, { indent = true })
end

return M
