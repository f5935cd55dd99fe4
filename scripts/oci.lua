-- scripts/oci.lua: wbl as an OCI runtime (runc's command line), for
-- podman, conmon and anything else that drives runc or crun.
--
--   wbl oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID [ARGS...]
--   wbl-oci ...                 (the same: a link to wbl; make install)
--
-- config.json becomes the same container spec run.lua's options do
-- (wbl.oci), and the container is made by the same steps: create.lua,
-- init.lua, process.lua.  `create` leaves its process in the created
-- state (namespaces, mounts, cgroups done) waiting on an exec fifo before
-- the command, and exits; `start` lets it exec.  The state lives in
-- --root (default /run/wbl-oci), one directory per container, and stays
-- after the process ends until `delete`.  Errors go to stderr (and to
-- --log, as JSON lines with --log-format json) with exit status 1.
local wbl = require "wbl"
local json = require "dkjson" -- loaded here, before any clone: hooks use it inside
local oci, state, cgroup, core = wbl.oci, wbl.state, wbl.cgroup, wbl.core
local E = core.errno

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local usage = "wbl-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [OPTIONS] ID"

local commands_help = [==[
Commands:
  create --bundle DIR [--pid-file F] [--console-socket SOCK] [--preserve-fds N] ID
  start ID                 run the created container's command
  state ID                 its state, as JSON
  kill [--all] ID [SIGNAL] send a signal (default TERM; a name or a number)
  delete [--force] ID      remove a stopped (--force: any) container
  run [--detach] [create's options] ID       create and start (and wait)
  exec [--process FILE.json] [--tty --console-socket S] [--detach] [--pid-file F]
       [--cwd DIR] [--env K=V] [--user UID[:GID]] [--cap CAP] [--no-new-privs] ID [CMD...]
  pause ID / resume ID     freeze and thaw every process (the freezer)
  update [--memory N] [--memory-swap N] [--memory-reservation N] [--cpu-quota N]
         [--cpu-period N] [--cpu-share N] [--cpuset-cpus L] [--cpuset-mems L]
         [--pids-limit N] [-r FILE.json|-] ID
  list [-q] [--format table|json]    ps [--format table|json] ID [PS ARGS]
  features                 what this runtime supports, as JSON]==]

-- Logging and errors ---------------------------------------------------------

local log = { format = "text" }

local function logline(level, msg)
  if not log.file or (level == "debug" and not log.debug) then return end
  local line
  if log.format == "json" then
    line = json.encode { level = level, msg = msg, time = oci.now() }
  else
    line = ("time=%q level=%s msg=%q"):format(oci.now(), level, msg)
  end
  local f = io.open(log.file, "a")
  if f then f:write(line, "\n"); f:close() end
end

local function die(msg, code)
  io.stderr:write("wbl-oci: ", tostring(msg), "\n")
  logline("error", tostring(msg))
  os.exit(code or 1)
end

local function warn(msg)
  io.stderr:write("wbl-oci: warning: ", tostring(msg), "\n")
  logline("warning", tostring(msg))
end

local function check(ok, msg, en)
  if not ok then die(wbl.message(msg, en)) end
  return ok, msg, en
end

-- Options of a command (wbl.args); the positional arguments follow.
local function parse(name, options, argv)
  table.insert(options, 1, { "h", "help", help = "print this help and exit" })
  local o, rest = wbl.args.parse(options, argv)
  if not o then die(name .. ": " .. rest) end
  if o.help then
    io.stdout:write(wbl.args.help("wbl-oci " .. name .. " [OPTIONS] ID", options))
    os.exit(0)
  end
  return o, rest
end

local function int(v)
  local n = math.tointeger(tonumber(v))
  if not n then return nil, "expected a number" end
  return n
end

-- 64m, 1g, 512k, 1024 -> bytes; -1 stays.
local function bytes(v)
  if v == "-1" then return -1 end
  local n, u = v:lower():match("^(%d+)([kmgb]?)b?$")
  if not n then return nil, "expected a size (bytes, or with k, m, g)" end
  return math.tointeger(n) * (({ k = 1 << 10, m = 1 << 20, g = 1 << 30 })[u] or 1)
end

local function the_id(rest, name, more)
  local id = rest[1]
  if not id then die(name .. ": no container id given") end
  if not more and #rest > 1 then die(name .. ": too many arguments: " .. table.concat(rest, " ", 2)) end
  check(oci.check_id(id))
  return id
end

-- An OCI container of this root (nil, message: "does not exist").
local function find(id)
  local c = state.load(id)
  if not c or not c.oci then return nil, ("container %s does not exist"):format(id), E.ENOENT end
  c.state_made = true
  return c
end

local function get(id) return check(find(id)) end

local function write_pid_file(file, pid)
  if file then check(wbl.util.replace_file(file, tostring(pid), "0644")) end
end

-- SIGTERM, TERM, term, 15 -> "SIGTERM"
local function signal(v)
  local sig = tostring(v or "SIGTERM"):upper()
  if sig:match("^%d+$") then
    for name, n in pairs(core.proc.signals) do
      if n == tonumber(sig) and name:match("^SIG") then return name end
    end
    return nil
  end
  if not sig:match("^SIG") then sig = "SIG" .. sig end
  return core.proc.signals[sig] and sig or nil
end

-- create ---------------------------------------------------------------------

local create_options = {
  { "b", "bundle", arg = "DIR", help = "the bundle (config.json, the root) (default: the current directory)" },
  { nil, "pid-file", arg = "FILE", help = "write the container's pid there" },
  { nil, "console-socket", arg = "SOCK", help = "send the pty master to this unix socket (process.terminal)" },
  { nil, "preserve-fds", arg = "N", check = int, help = "pass fds 3 to 3+N-1 on to the container" },
  { nil, "no-pivot", help = "accepted; wbl always uses pivot_root" },
  { nil, "no-new-keyring", help = "accepted; wbl makes no session keyring" },
}

-- Make the container, up to its process waiting for start.  survive: it
-- outlives this process (create, run -d).
local function create(o, id, survive)
  local bundle = o.bundle or core.fs.getcwd()
  bundle = check(core.fs.realpath(bundle))
  local cfg = check(oci.read_config(bundle))
  local s = check(oci.spec(cfg, bundle, id))
  if s.process.terminal and not o.console_socket and survive then
    die("process.terminal needs --console-socket (where the pty master goes)")
  end
  if o.console_socket and not s.process.terminal then
    die("--console-socket needs process.terminal true in config.json")
  end
  if state.load(id) then die(("container %s already exists"):format(id)) end
  local c = wbl.container.new(s, id, id)
  c.oci = { bundle = bundle, created = oci.now() }
  logline("debug", "create " .. id .. " from " .. bundle)
  local ok, err = xpcall(function()
    wbl.step("prepare", oci.prepare(c, { survive = survive, preserve_fds = o.preserve_fds,
                                         console_socket = o.console_socket }))
    wbl.step("load create.lua", loadfile(here .. "/create.lua"))(c, here)
    wbl.step("container process", oci.await_ready(c))
  end, wbl.handler)
  if not ok then
    local done, msg = wbl.container.destroy(c)
    if not done then warn("teardown: " .. msg) end
    die(wbl.describe(err))
  end
  if c._tty and c._console then c._tty:close(); c._tty = nil end
  c.status = "created"
  check(state.save(c))
  write_pid_file(o.pid_file, c.pid)
  return c
end

local commands = {}

function commands.create(argv)
  local o, rest = parse("create", create_options, argv)
  create(o, the_id(rest, "create"), true)
end

-- start, run -------------------------------------------------------------------

local function start(c)
  local st = oci.status(c)
  if st ~= "created" then die(("cannot start container %s: it is %s, not created"):format(c.id, st)) end
  check(oci.start(c))
  local ok, msg = wbl.hooks.run_oci(c, "poststart")
  if not ok then warn(msg) end
end

function commands.start(argv)
  local _, rest = parse("start", {}, argv)
  start(get(the_id(rest, "start")))
end

-- The end of a container: its state and cgroups go; poststop hooks run.
local function remove(c)
  local ok, msg = wbl.container.destroy(c)
  local hooked, hmsg = wbl.hooks.run_oci(c, "poststop")
  if not hooked then warn(hmsg) end
  if not ok then die("delete: " .. msg) end
end

function commands.run(argv)
  local options = create_options
  table.insert(options, { "d", "detach", help = "return once it runs (the default waits for it)" })
  local o, rest = parse("run", options, argv)
  local c = create(o, the_id(rest, "run"), o.detach)
  start(c)
  if o.detach then os.exit(0) end
  -- in the foreground: wait (signals to us go to it), then delete it
  local status, msg, en = wbl.container.wait(c)
  if not status then warn(wbl.message(msg, en)); status = 1 end
  c._child = nil
  remove(c)
  os.exit(status)
end

-- state, kill, delete, pause, resume --------------------------------------------

function commands.state(argv)
  local _, rest = parse("state", {}, argv)
  print(oci.state_json(get(the_id(rest, "state"))))
end

-- The pids of the container's cgroups (every hierarchy's, once each).
local function pids(c)
  local seen, out = {}, {}
  for _, d in ipairs(c.cgroup and c.cgroup.dirs or {}) do
    for _, pid in ipairs(cgroup.pids(d.path)) do
      if not seen[pid] then seen[pid] = true; out[#out + 1] = pid end
    end
  end
  table.sort(out)
  return out
end

function commands.kill(argv)
  local o, rest = parse("kill", { { "a", "all", help = "every process of the container, not only its first" } },
    argv)
  local id = the_id(rest, "kill", true)
  if #rest > 2 then die("kill: too many arguments") end
  local sig = signal(rest[2])
  if not sig then die("kill: unknown signal " .. tostring(rest[2])) end
  local c = get(id)
  local st = oci.status(c)
  if st == "stopped" then die(("container %s is not running"):format(id)) end
  if o.all then
    for _, pid in ipairs(pids(c)) do core.proc.kill(pid, sig) end
    return
  end
  check(core.proc.kill(c.pid, sig))
end

function commands.delete(argv)
  local o, rest = parse("delete", { { "f", "force", help = "kill it first if it runs" } }, argv)
  local id = the_id(rest, "delete")
  local c, msg = find(id)
  if not c then
    if o.force then os.exit(0) end -- nothing to delete: done (runc says the same)
    die(msg)
  end
  local st = oci.status(c)
  if st == "running" or st == "paused" then
    if not o.force then die(("cannot delete container %s that is not stopped: %s"):format(id, st)) end
  end
  if st ~= "stopped" then
    core.proc.kill(c.pid, "SIGKILL")
    if st == "paused" and c.cgroup then cgroup.freeze(c.cgroup, false) end
    wbl.cli.wait_until(function() return not state.running(c) end, 5000)
  end
  remove(c)
end

function commands.pause(argv)
  local _, rest = parse("pause", {}, argv)
  local c = get(the_id(rest, "pause"))
  local st = oci.status(c)
  if st ~= "running" then die(("cannot pause container %s: it is %s"):format(c.id, st)) end
  check(cgroup.freeze(c.cgroup, true))
end

function commands.resume(argv)
  local _, rest = parse("resume", {}, argv)
  local c = get(the_id(rest, "resume"))
  local st = oci.status(c)
  if st ~= "paused" then die(("cannot resume container %s: it is %s, not paused"):format(c.id, st)) end
  check(cgroup.freeze(c.cgroup, false))
end

-- update ---------------------------------------------------------------------

function commands.update(argv)
  local o, rest = parse("update", {
    { "r", "resources", arg = "FILE", help = "linux.resources as JSON (- : stdin)" },
    { "m", "memory", arg = "SIZE", check = bytes, help = "memory limit" },
    { nil, "memory-swap", arg = "SIZE", check = bytes, help = "memory plus swap limit" },
    { nil, "memory-reservation", arg = "SIZE", check = bytes, help = "memory soft limit" },
    { nil, "cpu-quota", arg = "US", check = int, help = "CPU time per period" },
    { nil, "cpu-period", arg = "US", check = int, help = "the period" },
    { nil, "cpu-share", arg = "N", check = int, help = "relative CPU weight" },
    { nil, "cpuset-cpus", arg = "LIST", help = "CPUs" },
    { nil, "cpuset-mems", arg = "LIST", help = "memory nodes" },
    { nil, "pids-limit", arg = "N", check = int, help = "most processes" },
  }, argv)
  local c = get(the_id(rest, "update"))
  if oci.status(c) == "stopped" then die(("container %s is not running"):format(c.id)) end
  local r = {}
  if o.resources then
    local text = o.resources == "-" and io.read("a") or check(core.fs.read_file(o.resources))
    local j, _, err = json.decode(text, 1, nil)
    if err then die("--resources: not JSON: " .. err) end
    local ok, res = pcall(oci.resources, j)
    if not ok then die("--resources " .. (type(res) == "table" and res.msg or tostring(res))) end
    r = res
  end
  local old = c.spec.linux.resources or {}
  if o.memory or o.memory_swap or o.memory_reservation then
    r.memory = r.memory or {}
    r.memory.limit = o.memory or r.memory.limit
    r.memory.swap = o.memory_swap or r.memory.swap
    r.memory.reservation = o.memory_reservation or r.memory.reservation
  end
  if r.memory and r.memory.swap and not r.memory.limit then r.memory.limit = old.memory and old.memory.limit end
  if o.cpu_quota or o.cpu_period or o.cpu_share or o.cpuset_cpus or o.cpuset_mems then
    r.cpu = r.cpu or {}
    r.cpu.quota, r.cpu.period = o.cpu_quota or r.cpu.quota, o.cpu_period or r.cpu.period
    r.cpu.shares = o.cpu_share or r.cpu.shares
    r.cpu.cpus, r.cpu.mems = o.cpuset_cpus or r.cpu.cpus, o.cpuset_mems or r.cpu.mems
  end
  if r.cpu and r.cpu.period and not r.cpu.quota then r.cpu.quota = old.cpu and old.cpu.quota end
  if o.pids_limit then r.pids = { limit = o.pids_limit } end
  r.devices = nil -- the device rules stay as made
  local lim = check(cgroup.limits { linux = { resources = r, cgroupsPath = c.spec.linux.cgroupsPath }, wbl = {} })
  check(cgroup.update(c.cgroup, lim))
  for k, v in pairs(r) do
    if type(v) == "table" and type(old[k]) == "table" then
      for kk, vv in pairs(v) do old[k][kk] = vv end
    else
      old[k] = v
    end
  end
  c.spec.linux.resources = old
  state.spec_changed(c)
  check(state.save(c))
end

-- list, ps, features -------------------------------------------------------------

function commands.list(argv)
  local o = parse("list", { { "q", "quiet", help = "ids only" },
    { "f", "format", arg = "table|json", help = "the output's format" } }, argv)
  local all = {}
  for _, c in ipairs(state.list()) do
    if c.oci then all[#all + 1] = c end
  end
  if o.quiet then
    for _, c in ipairs(all) do print(c.id) end
  elseif o.format == "json" then
    local out = setmetatable({}, { __jsontype = "array" })
    for _, c in ipairs(all) do
      local st = oci.status(c)
      out[#out + 1] = { id = c.id, pid = st ~= "stopped" and c.pid or 0, status = st, bundle = c.oci.bundle,
                        rootfs = c.spec.root.path, created = c.oci.created, owner = "" }
    end
    print(json.encode(out))
  else
    print(("%-24s %-8s %-10s %-40s %-32s %s"):format("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"))
    for _, c in ipairs(all) do
      local st = oci.status(c)
      print(("%-24s %-8d %-10s %-40s %-32s %s"):format(c.id, st ~= "stopped" and c.pid or 0, st, c.oci.bundle,
        c.oci.created or "", "root"))
    end
  end
end

function commands.ps(argv)
  local o, rest = parse("ps", { { "f", "format", arg = "table|json", help = "the output's format" } }, argv)
  local c = get(the_id(rest, "ps", true))
  local list = pids(c)
  if o.format == "json" then
    print(json.encode(setmetatable(list, { __jsontype = "array" })))
    return
  end
  local args = {}
  for i = 2, #rest do args[#args + 1] = "'" .. rest[i]:gsub("'", "'\\''") .. "'" end
  local p = io.popen("ps " .. (#args > 0 and table.concat(args, " ") or "-ef"))
  local text = p:read("a")
  p:close()
  local want = {}
  for _, pid in ipairs(list) do want[pid] = true end
  local first, col = true, nil
  for line in text:gmatch("[^\n]+") do
    if first then
      first = false
      local i = 0
      for w in line:gmatch("%S+") do
        i = i + 1
        if w == "PID" then col = i end
      end
      print(line)
    else
      local i, pid = 0, nil
      for w in line:gmatch("%S+") do
        i = i + 1
        if i == col then pid = tonumber(w) end
      end
      if pid and want[pid] then print(line) end
    end
  end
end

function commands.features(argv)
  parse("features", {}, argv)
  print(oci.features())
end

-- exec: a process in a running container (wbl.oci.exec) ------------------------

function commands.exec(argv)
  local o, rest = parse("exec", {
    { "p", "process", arg = "FILE.json", help = "the process, as config.json's process object" },
    { "t", "tty", help = "a terminal (its master goes to --console-socket)" },
    { nil, "console-socket", arg = "SOCK", help = "where the pty master goes" },
    { "d", "detach", help = "return once it runs (its pid in --pid-file)" },
    { nil, "pid-file", arg = "FILE", help = "write its pid there" },
    { nil, "cwd", arg = "DIR", help = "working directory" },
    { "e", "env", arg = "K=V", list = true, help = "an environment variable" },
    { "u", "user", arg = "UID[:GID]", help = "the user" },
    { "c", "cap", arg = "CAP", list = true, help = "a capability to add" },
    { nil, "no-new-privs", help = "set no_new_privs" },
    { nil, "preserve-fds", arg = "N", check = int, help = "pass fds 3 to 3+N-1 on" },
    { nil, "process-label", arg = "L", help = "accepted; no SELinux" },
    { nil, "apparmor", arg = "P", help = "accepted; no AppArmor" },
  }, argv)
  local id = the_id(rest, "exec", true)
  local c = get(id)
  local st = oci.status(c)
  if st ~= "running" and st ~= "created" then die(("cannot exec in container %s: it is %s"):format(id, st)) end
  local p
  if o.process then
    local j, _, err = json.decode(check(core.fs.read_file(o.process)), 1, nil)
    if err then die("--process " .. o.process .. ": not JSON: " .. err) end
    local ok, res = pcall(oci.process, j, "process")
    if not ok then die("--process " .. o.process .. ": " .. (type(res) == "table" and res.msg or tostring(res))) end
    p = res
  else
    if #rest < 2 then die("exec: no command given") end
    p = { args = table.move(rest, 2, #rest, 1, {}), env = {}, cwd = "/", terminal = o.tty or false,
          user = { uid = 0, gid = 0, additionalGids = {} }, rlimits = {},
          capabilities = c.spec.process.capabilities, noNewPrivileges = c.spec.process.noNewPrivileges }
    for _, kv in ipairs(c.spec.process.env or {}) do p.env[#p.env + 1] = kv end
  end
  if o.cwd then p.cwd = o.cwd end
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then die("--env " .. kv .. ": expected KEY=VALUE") end
    wbl.spec.setenv(p.env, k, v)
  end
  if o.user then
    local u, g = o.user:match("^(%d+):?(%d*)$")
    if not u then die("--user " .. o.user .. ": expected UID[:GID]") end
    p.user.uid, p.user.gid = math.tointeger(u), math.tointeger(g ~= "" and g or p.user.gid)
  end
  for _, cap in ipairs(o.cap or {}) do
    cap = cap:upper()
    if cap:sub(1, 4) ~= "CAP_" then cap = "CAP_" .. cap end
    p.capabilities = p.capabilities or { bounding = {}, effective = {}, inheritable = {}, permitted = {}, ambient = {} }
    for _, set in ipairs { "bounding", "effective", "permitted" } do
      table.insert(p.capabilities[set], cap)
    end
  end
  if o.no_new_privs then p.noNewPrivileges = true end
  if o.tty then p.terminal = true end
  if p.terminal and not o.console_socket then die("exec: a terminal needs --console-socket") end
  local status = check(oci.exec(c, p, { detach = o.detach, pid_file = o.pid_file, console_socket = o.console_socket,
                                         preserve_fds = o.preserve_fds, here = here }))
  os.exit(o.detach and 0 or status)
end

-- Global options, then the command --------------------------------------------

local o, rest = wbl.args.parse({
  { nil, "root", arg = "DIR", help = "where container state lives (default " .. oci.default_root .. ")" },
  { nil, "log", arg = "FILE", help = "append errors (and with --debug, more) to FILE" },
  { nil, "log-format", arg = "text|json", help = "the log's format (json: one object a line)",
    check = function(v) if v == "text" or v == "json" then return v end return nil, "text or json" end },
  { nil, "debug", help = "log debug lines too" },
  { nil, "systemd-cgroup", help = "refused: wbl has no systemd cgroup driver" },
  { nil, "rootless", arg = "true|false|auto", help = "accepted; wbl runs as root" },
  { "v", "version", help = "print the version and the runtime-spec version" },
  { "h", "help", help = "print this help" },
}, arg)
if not o then die(rest) end
log.file, log.format, log.debug = o.log, o.log_format or "text", o.debug
if o.version then
  io.stdout:write(("wbl-oci version %s\ncommit: none\nspec: %s\n+SECCOMP +CAP +CGROUPFS -SYSTEMD\n"):format(
    core.version, wbl.spec.oci_version))
  os.exit(0)
end
if o.help or not rest[1] then
  io.stdout:write("usage: " .. usage .. "\n\n" .. commands_help .. "\n")
  os.exit(o.help and 0 or 1)
end
if o.systemd_cgroup then
  die("--systemd-cgroup: wbl has no systemd cgroup driver; use cgroupfs (podman --cgroup-manager cgroupfs)")
end
wbl.config.set_root(o.root or os.getenv("WBL_OCI_ROOT") or oci.default_root)
local name = table.remove(rest, 1)
local cmd = commands[name]
if not cmd then die(("unknown command %s (try: wbl-oci --help)"):format(name)) end
logline("debug", name .. " " .. table.concat(rest, " "))
local ok, err = xpcall(cmd, wbl.handler, rest)
if not ok then die(wbl.describe(err)) end
os.exit(0)
