--- The docker-style front end: run.lua's options, and their translation
-- into a container spec (wbl.spec).  Everything docker-specific lives
-- here: option names, units, docker's defaults (swap twice the memory,
-- a bridge network, a missing volume directory made); the library below
-- only ever sees spec fields.
--
-- Parsing checks each value's syntax (wbl.args); nothing here reads the
-- disk: whether a network or an image exists is found out when the
-- container is made.
local args = require "wbl.args"
local spec = require "wbl.spec"
local config = require "wbl.config"
local capabilities = require "wbl.caps"
local E = require("wbl.core").errno

local check = args.check

local M = {}

--- --network VALUE: none, host, bridge or a network's name (its syntax).
function check.network(v)
  if v == "none" or v == "host" or v == "bridge" then return v end
  if #v > 64 or not v:match("^[%w][%w_%.%-]*$") then
    return nil, "expected none, host, bridge or a network name"
  end
  return v
end

--- -p [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|/udp] -> a list of
-- { ip =, host = (nil: any free port), container =, proto = }: a range
-- maps port by port (both the same length, or one host port for each).
function check.publish(v)
  local usage = "expected [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|/udp], ports 1-65535"
  local text, proto = v:match("^(.-)/(%a+)$")
  text, proto = text or v, proto or "tcp"
  if proto ~= "tcp" and proto ~= "udp" then return nil, "protocol must be tcp or udp" end
  local parts = {}
  for p in (text .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  local ip = #parts == 3 and table.remove(parts, 1) or "0.0.0.0"
  if ip == "" then ip = "0.0.0.0" end
  if not require("wbl.ipam").ip_num(ip) then return nil, "the host address must be an IPv4 address" end
  if #parts > 2 then return nil, usage end
  local function range(s)
    local a, b = s:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or s:match("^(%d+)$")), tonumber(b or a or s:match("^(%d+)$"))
    if not a or a < 1 or b > 65535 or b < a then return nil end
    return a, b
  end
  local c1, c2 = range(parts[#parts])
  if not c1 then return nil, usage end
  local h1, h2
  if #parts == 2 and parts[1] ~= "" then
    h1, h2 = range(parts[1])
    if not h1 then return nil, usage end
    if h2 - h1 ~= c2 - c1 then return nil, "the host and container ranges differ in length" end
  end
  local out = {}
  for i = 0, c2 - c1 do
    out[#out + 1] = { ip = ip, host = h1 and h1 + i, container = c1 + i, proto = proto }
  end
  return out
end

--- --cap-add/--cap-drop NAME: a capability's name (CHOWN, cap_chown,
-- CAP_CHOWN) or ALL -> "CAP_CHOWN" / "ALL".
function check.capability(v)
  local up = v:upper()
  if up == "ALL" then return "ALL" end
  if up:sub(1, 4) ~= "CAP_" then up = "CAP_" .. up end
  for _, n in ipairs(spec.all_capabilities) do
    if n == up then return up end
  end
  return nil, "no such capability (e.g. NET_ADMIN, SYS_PTRACE, ALL)"
end

--- --security-opt: seccomp=unconfined|FILE.json, no-new-privileges[=true|false],
-- systempaths=unconfined -> { key =, value = }.
function check.security_opt(v)
  local k, val = v:match("^([%w%-]+)[=:](.*)$")
  k = k or v
  if k == "no-new-privileges" then
    if val == nil or val == "true" then return { key = k, value = true } end
    if val == "false" then return { key = k, value = false } end
    return nil, "no-new-privileges takes true or false"
  elseif k == "seccomp" and val and val ~= "" then
    return { key = k, value = val }
  elseif k == "systempaths" and val == "unconfined" then
    return { key = k, value = val }
  end
  return nil, "expected seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false] " ..
    "or systempaths=unconfined"
end

--- -u/--user USER|UID[:GROUP|GID] (names are looked up in the image).
function check.user(v)
  if v == "" or not v:match("^[%w_%.%-]+$") and not v:match("^[%w_%.%-]+:[%w_%.%-]+$") then
    return nil, "expected USER|UID[:GROUP|GID]"
  end
  return v
end

--- --group-add GROUP|GID
function check.group(v)
  if not v:match("^[%w_%.%-]+$") then return nil, "expected a group name or GID" end
  return v
end

--- --ulimit NAME=SOFT[:HARD] (docker's names: nofile, nproc, core, ...;
-- -1 or unlimited) -> { type = "RLIMIT_NOFILE", soft =, hard = }.
local ulimits = { core = true, cpu = true, data = true, fsize = true, locks = true, memlock = true,
  msgqueue = true, nice = true, nofile = true, nproc = true, rss = true, rtprio = true, rttime = true,
  sigpending = true, stack = true, as = true }
function check.ulimit(v)
  local name, soft, hard = v:match("^(%a+)=([%w%-]+):?([%w%-]*)$")
  if not name or not ulimits[name] then
    return nil, "expected NAME=SOFT[:HARD], NAME one of nofile, nproc, core, stack, memlock, ..."
  end
  local function num(x)
    if x == "unlimited" or x == "-1" then return "unlimited" end
    return x:match("^%d+$") and math.tointeger(tonumber(x))
  end
  soft, hard = num(soft), hard == "" and num(soft) or num(hard)
  if not soft or not hard then return nil, "limits are numbers, -1 or unlimited" end
  local above = hard ~= "unlimited" and (soft == "unlimited" or soft > hard)
  if above then return nil, "the soft limit is above the hard one" end
  return { type = "RLIMIT_" .. name:upper(), soft = soft, hard = hard }
end

--- --sysctl KEY=VALUE, namespaced ones only (docker's list): the rest
-- would change the host.
function check.sysctl(v)
  local k, val = v:match("^([%w_%.%-/]+)=(.*)$")
  if not k then return nil, "expected KEY=VALUE" end
  k = k:gsub("/", ".")
  local ok = k:match("^net%.") or k:match("^kernel%.shm") or k:match("^kernel%.msg")
    or k == "kernel.sem" or k:match("^fs%.mqueue%.")
  if not ok then
    return nil, "not a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)"
  end
  return { key = k, value = val }
end

--- --device HOST[:CONTAINER][:rwm] -> { host =, path =, access = }
function check.device(v)
  local parts = {}
  for p in (v .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  local access = "rwm"
  if #parts >= 2 and parts[#parts]:match("^[rwm]+$") then access = table.remove(parts) end
  if #parts > 2 or parts[1] == "" then return nil, "expected HOST[:CONTAINER][:rwm]" end
  local host, path = parts[1], parts[2] or parts[1]
  if host:sub(1, 1) ~= "/" or path:sub(1, 5) ~= "/dev/" then
    return nil, "the host path must be absolute, the container's under /dev/"
  end
  return { host = host, path = path, access = access }
end

--- --restart no|on-failure[:N]|always -> { name =, max = }
function check.restart(v)
  if v == "no" or v == "always" then return { name = v } end
  local n = v:match("^on%-failure:?(%d*)$")
  if n then return { name = "on-failure", max = tonumber(n) } end
  return nil, "expected no, on-failure[:N] or always"
end

--- --userns host|auto (wbl.userns)
function check.userns(v)
  if v == "host" or v == "auto" then return v end
  return nil, "expected host (none: the host's users) or auto (a range of /etc/subuid's wbl entry)"
end

--- --hook FILE.lua: a path (made absolute: the hooks run after chdirs).
function check.abspath_or_relative(v)
  if v == "" then return nil, "expected a file" end
  if v:sub(1, 1) ~= "/" then v = require("wbl.core").fs.getcwd() .. "/" .. v end
  return v
end

--- The options of scripts/run.lua, docker's names (wbl.args's format).
M.options = {
  { "h", "help", help = "print this help and exit" },
  { nil, "name", arg = "NAME", check = check.name,
    help = "the container's name (default: a random id)" },
  { nil, "rootfs", arg = "DIR", help = "a directory as the image's only layer (default: the busybox root)" },
  -- Images, layers and volumes (lua/wbl/image.lua, lua/wbl/overlay.lua).
  { nil, "image", arg = "NAME|FILE.tar", check = check.image,
    help = "an image from the store, or a tarball (imported once)" },
  { nil, "entrypoint", arg = "CMD", help = "replaces the image's Entrypoint (and drops its Cmd); \"\": none" },
  { nil, "rm", help = "remove the container's write layer when it exits" },
  { "v", "volume", arg = "HOST:DIR[:ro|:rw]", list = true, check = check.volume,
    help = "bind a host directory (made if missing), recursively" },
  { nil, "tmpfs", arg = "DIR[:OPTS]", list = true, check = check.tmpfs,
    help = "mount a tmpfs (OPTS as mount -o: size=64m,mode=1777)" },
  { nil, "read-only", help = "mount the root file system read-only" },
  { nil, "hostname", arg = "NAME", check = check.hostname, help = "the hostname (default: the id)" },
  { "e", "env", arg = "KEY=VAL", list = true, check = check.env,
    help = "set an environment variable (KEY alone: the host's value)" },
  { "w", "workdir", arg = "DIR", check = check.abspath, help = "working directory inside (default /)" },
  { "i", "interactive", help = "keep stdin attached (otherwise /dev/null)" },
  { "t", "tty", help = "a terminal of its own, connected to yours (stdin must be one; with -d: wbl attach)" },
  -- Resources (lua/wbl/cgroup.lua), docker's names and units.
  { "m", "memory", arg = "SIZE", check = check.memory,
    help = "memory limit (b, k, m, g; at least 6m)" },
  { nil, "memory-swap", arg = "SIZE", check = check.memory_swap,
    help = "memory plus swap limit (-1: unlimited swap; default twice --memory)" },
  { nil, "cpus", arg = "N", check = check.cpus, help = "CPUs, a decimal (0.5: half of one)" },
  { nil, "cpu-shares", arg = "N", check = check.int(2, 262144),
    help = "relative CPU weight (default 1024)" },
  { nil, "cpuset-cpus", arg = "LIST", check = check.cpulist("/sys/devices/system/cpu/online", "cpu"),
    help = "CPUs the container may use (0-2,4)" },
  { nil, "cpuset-mems", arg = "LIST", check = check.cpulist("/sys/devices/system/node/online", "memory node"),
    help = "memory nodes the container may use (0,1)" },
  { nil, "pids-limit", arg = "N", check = check.int(-1, 4194304),
    help = "most processes at once (-1 or 0: unlimited)" },
  { nil, "cgroup-parent", arg = "PATH", check = check.cgroup_parent,
    help = "parent cgroup (default wbl)" },
  -- Networking (lua/wbl/net.lua; networks: scripts/network.lua).
  { nil, "network", arg = "none|host|bridge|NAME", default = "bridge", check = check.network,
    help = "the container's network (default bridge)" },
  { "p", "publish", arg = "[IP:][HOSTPORT:]PORT[/udp]", list = true, check = check.publish,
    help = "map a host port (or range; none: a free one) to a container port" },
  { "P", "publish-all", help = "map every port the image exposes to a free host port" },
  -- Confinement (docker's defaults unless loosened: README, Security).
  { "u", "user", arg = "USER|UID[:GROUP|GID]", check = check.user,
    help = "run as this user (names from the image's /etc/passwd and /etc/group)" },
  { nil, "group-add", arg = "GROUP", list = true, check = check.group, help = "an extra group" },
  { nil, "cap-add", arg = "CAP|ALL", list = true, check = check.capability, help = "add a capability" },
  { nil, "cap-drop", arg = "CAP|ALL", list = true, check = check.capability, help = "drop a capability" },
  { nil, "privileged", help = "all capabilities, no seccomp, no masked paths, every host device" },
  { nil, "userns", arg = "host|auto", check = check.userns,
    help = "auto: a user namespace, its root an unprivileged range of host ids (default host)" },
  { nil, "security-opt", arg = "OPT", list = true, check = check.security_opt,
    help = "seccomp=unconfined|FILE.json, no-new-privileges, systempaths=unconfined" },
  { nil, "device", arg = "HOST[:CTR][:rwm]", list = true, check = check.device,
    help = "a host device inside (rwm: read, write, mknod)" },
  { nil, "ulimit", arg = "NAME=SOFT[:HARD]", list = true, check = check.ulimit,
    help = "a resource limit (nofile=1024:4096)" },
  { nil, "sysctl", arg = "KEY=VALUE", list = true, check = check.sysctl,
    help = "a namespaced sysctl (net.*, kernel.shm*, ...)" },
  { nil, "init", help = "a tiny PID 1 (wbl-init) that passes signals on and reaps zombies" },
  { "d", "detach", help = "run in the background (a supervisor keeps it); print its id" },
  { nil, "restart", arg = "no|on-failure[:N]|always", check = check.restart,
    help = "run it again when it ends (with -d)" },
  { nil, "hook", arg = "FILE.lua", list = true, check = check.abspath_or_relative,
    help = "Lua functions run at named steps (README: Hooks)" },
}

-- Confinement: docker's defaults, then what the options loosen or add.
local function confinement(s, o)
  local p = s.process
  -- Capabilities: the default 14, --cap-add, --cap-drop (ALL: all of them
  -- that wbl itself still has: it cannot give one it lost; podman's rule).
  local caps, all = {}, capabilities.bounding()
  local function set(list, on) for _, n in ipairs(list) do caps[n] = on end end
  set(o.privileged and all or spec.default_capabilities, true)
  for _, n in ipairs(o.cap_add or {}) do set(n == "ALL" and all or { n }, true) end
  for _, n in ipairs(o.cap_drop or {}) do set(n == "ALL" and all or { n }, nil) end
  local names = {}
  for _, n in ipairs(spec.all_capabilities) do if caps[n] then names[#names + 1] = n end end
  p.capabilities = spec.capability_sets(names)
  -- Security options.
  local seccomp, unconfined_paths = not o.privileged and "default" or nil, o.privileged
  for _, so in ipairs(o.security_opt or {}) do
    if so.key == "no-new-privileges" then p.noNewPrivileges = so.value
    elseif so.key == "systempaths" then unconfined_paths = true
    elseif so.key == "seccomp" then seccomp = so.value ~= "unconfined" and so.value or nil end
  end
  if unconfined_paths then s.linux.maskedPaths, s.linux.readonlyPaths = {}, {} end
  s.wbl.seccomp = seccomp -- "default", a profile file (read when the container is made), or nil
  -- Devices: --privileged: every host device (found when the container is made).
  s.wbl.privileged = o.privileged or nil
  if o.privileged then s.linux.resources.devices = { { allow = true, access = "rwm" } } end
  s.wbl.devices = o.device or {}
  -- User and groups (resolved in the image's files), limits, sysctls.
  s.wbl.user, s.wbl.group_add = o.user, o.group_add or {}
  for _, r in ipairs(o.ulimit or {}) do p.rlimits[#p.rlimits + 1] = r end
  for _, kv in ipairs(o.sysctl or {}) do s.linux.sysctl[kv.key] = kv.value end
end

--- The cpu period (us) --cpus is expressed in, as docker does.
M.cpu_period = 100000

-- Docker's resource options -> linux.resources (OCI names and units).
local function resources(o)
  local r = {}
  if o.memory_swap and not o.memory then return nil, "--memory-swap needs --memory (-m)" end
  if o.memory then
    r.memory = { limit = o.memory, swap = o.memory_swap or 2 * o.memory } -- docker: as much swap as memory
    if o.memory_swap and o.memory_swap ~= -1 and o.memory_swap < o.memory then
      return nil, ("--memory-swap %d must be at least --memory %d (it is memory plus swap)")
        :format(o.memory_swap, o.memory)
    end
  end
  if o.cpus or o.cpu_shares or o.cpuset_cpus or o.cpuset_mems then
    r.cpu = { shares = o.cpu_shares, cpus = o.cpuset_cpus, mems = o.cpuset_mems }
    if o.cpus then
      r.cpu.period = M.cpu_period
      r.cpu.quota = math.floor(o.cpus * M.cpu_period + 0.5)
    end
  end
  if o.pids_limit then r.pids = { limit = o.pids_limit > 0 and o.pids_limit or -1 } end
  return r
end

--- Is path (in the container) the kernel's: /proc or /sys or below,
-- or /dev itself?  wbl mounts those (proc, a read-only sysfs, the device
-- nodes the device rules allow); a volume or tmpfs there would undo that
-- (a host directory at /dev gets device nodes made in it, a bind under
-- /proc or /sys uncovers what is masked).  Files below /dev (/dev/shm,
-- /dev/log) are fine.  The reason, or nil.
function M.kernel_path(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then table.remove(parts) elseif part ~= "." then parts[#parts + 1] = part end
  end
  local top = parts[1]
  if (top == "proc" or top == "sys") or (top == "dev" and #parts == 1) then
    return ("cannot mount %s /%s (wbl's own mount of the kernel's) without --privileged")
      :format(#parts > 1 and "inside" or "over", top)
  end
  return nil
end

--- The command as docker makes it from an image's Entrypoint and Cmd
-- (cfg, the image's config) and the user's: a command given replaces
-- the image's Cmd; --entrypoint replaces its Entrypoint and drops its Cmd
-- ("": no entrypoint at all); with neither, Entrypoint then Cmd.
-- @return the argument list, or nil, message
function M.command(o, argv, cfg)
  local entry, cmd = cfg.Entrypoint or {}, argv
  if o.entrypoint then
    entry = o.entrypoint ~= "" and { o.entrypoint } or {}
  elseif #argv == 0 then
    cmd = cfg.Cmd or {}
  end
  local out = table.move(entry, 1, #entry, 1, {})
  table.move(cmd, 1, #cmd, #out + 1, out)
  if #out == 0 then return nil, "no command given (and the image has no Cmd nor Entrypoint)" end
  return out
end

--- The container spec for run.lua's options and command.
-- @param o options from wbl.args.parse(M.options, ...)
-- @param argv the command and its arguments
-- @param id the container's id (its name, or a random one)
-- @param image the image's record (wbl.image.get), if --image: its
--   config fills what the options leave out (command, environment,
--   working directory, user, exposed ports), as docker does
-- @return spec, or nil, message, errno (a message naming the option)
function M.spec(o, argv, id, image)
  local s = spec.new()
  local p = s.process
  local cfg = image and image.config or {}
  local command, why = M.command(o, argv, cfg)
  if not command then return nil, why, E.EINVAL end
  p.args = command
  p.cwd = o.workdir or cfg.WorkingDir or "/"
  -- the image's environment first: wbl's own variables and -e replace it
  for _, kv in ipairs(cfg.Env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then spec.setenv(p.env, k, v) end
    if k == "HOME" then s.wbl.keep_home = true end
  end
  s.wbl.exposed = {}
  for _, e in ipairs(cfg.ExposedPorts or {}) do
    local port, proto = e:match("^(%d+)/?(%a*)$")
    s.wbl.exposed[#s.wbl.exposed + 1] = { port = tonumber(port), proto = proto ~= "" and proto or "tcp" }
  end
  p.terminal = o.tty or false
  -- (--network host: the host's name, as docker keeps it, unless --hostname)
  local host_name = o.network == "host" and require("wbl.core").ns.gethostname()
  s.hostname = o.hostname or host_name or id:sub(1, 63)
  -- The environment: PATH, HOSTNAME, HOME, TERM with a terminal, then
  -- every -e KEY=VAL (KEY alone: the host's value, if set).
  spec.setenv(p.env, "HOSTNAME", s.hostname)
  -- -u sets it from the image's passwd, unless -e HOME (or the image's Env) does
  if not s.wbl.keep_home then spec.setenv(p.env, "HOME", "/root") end
  if o.tty then spec.setenv(p.env, "TERM", os.getenv("TERM") or "xterm") end
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then spec.setenv(p.env, k, v)
    elseif os.getenv(kv) then spec.setenv(p.env, kv, os.getenv(kv)) end
    if (k or kv) == "HOME" then s.wbl.keep_home = true end
  end
  -- The root: an image, a directory, or the default busybox root.
  if o.image and o.rootfs then return nil, "--image and --rootfs exclude each other", E.EINVAL end
  s.wbl.image = o.image
  s.root.path = not o.image and (o.rootfs or config.default_rootfs()) or nil
  s.root.readonly = o.read_only or false
  s.wbl.rm = o.rm or false
  s.wbl.interactive = o.interactive or false
  -- Volumes and tmpfs, after the default mounts.
  s.wbl.volume_sources = {}
  for _, v in ipairs(o.volume or {}) do
    local kernel = not o.privileged and M.kernel_path(v.path)
    if kernel then return nil, ("--volume %s: %s"):format(v.spec, kernel), E.EINVAL end
    s.mounts[#s.mounts + 1] = { destination = v.path, type = "bind", source = v.host,
                                options = { "rbind", v.ro and "ro" or "rw" } }
    s.wbl.volume_sources[#s.wbl.volume_sources + 1] = v.host
  end
  for _, t in ipairs(o.tmpfs or {}) do
    local kernel = not o.privileged and M.kernel_path(t.path)
    if kernel then return nil, ("--tmpfs %s: %s"):format(t.spec, kernel), E.EINVAL end
    local opts = { "nosuid", "nodev" }
    for x in t.data:gmatch("[^,]+") do opts[#opts + 1] = x end
    s.mounts[#s.mounts + 1] = { destination = t.path, type = "tmpfs", source = "tmpfs", options = opts }
  end
  -- Resources.
  local r, msg = resources(o)
  if not r then return nil, msg, E.EINVAL end
  r.devices = s.linux.resources.devices
  s.linux.resources = r
  -- a swap limit docker made up is skipped where the kernel has no swap accounting
  s.wbl.swap_implicit = o.memory and not o.memory_swap or nil
  s.linux.cgroupsPath = (o.cgroup_parent or "wbl") .. "/" .. id
  -- on v1 hierarchies, only those its limits need (wbl.cgroup.always)
  s.wbl.cgroups = "needed"
  -- The network.
  local mode = o.network or "bridge"
  s.wbl.network = mode
  s.wbl.ports = {}
  for _, list in ipairs(o.publish or {}) do
    for _, m in ipairs(list) do s.wbl.ports[#s.wbl.ports + 1] = m end
  end
  -- -P: every port the image exposes, each on a free host port
  for _, e in ipairs(o.publish_all and s.wbl.exposed or {}) do
    s.wbl.ports[#s.wbl.ports + 1] = { ip = "0.0.0.0", container = e.port, proto = e.proto }
  end
  if #s.wbl.ports > 0 and (mode == "none" or mode == "host") then
    return nil, ("-p needs a bridge network (not --network %s)"):format(mode), E.EINVAL
  end
  confinement(s, o)
  if not o.user and cfg.User then s.wbl.user = cfg.User end -- the image's user, unless -u
  s.wbl.hooks = o.hook or {}
  s.wbl.restart = o.restart
  if o.restart and o.restart.name ~= "no" then
    if o.rm then return nil, "--restart and --rm exclude each other", E.EINVAL end
    if not o.detach then return nil, "--restart needs -d (a supervisor to restart it)", E.EINVAL end
  end
  -- --init: wbl-init, bound in read-only, is PID 1 and runs the command.
  if o.init then
    s.mounts[#s.mounts + 1] = { destination = "/dev/init", type = "bind", source = config.init_binary(),
                                options = { "ro", "nosuid" } }
    table.insert(p.args, 1, "--")
    table.insert(p.args, 1, "/dev/init")
  end
  -- --userns=auto: a user namespace, its range taken when it is made (wbl.userns)
  if o.userns == "auto" then
    s.wbl.userns = "auto"
    table.insert(s.linux.namespaces, 1, { type = "user" })
  end
  if mode == "host" then
    for i = #s.linux.namespaces, 1, -1 do
      if s.linux.namespaces[i].type == "network" then table.remove(s.linux.namespaces, i) end
    end
  end
  return spec.check(s)
end

return M
