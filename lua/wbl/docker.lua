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

--- -p HOSTPORT:CONTAINERPORT[/tcp|/udp] -> { host =, container =, proto = }
function check.publish(v)
  local h, c, proto = v:match("^(%d+):(%d+)/?(%a*)$")
  h, c = tonumber(h), tonumber(c)
  if proto == "" then proto = "tcp" end
  if not h or h < 1 or h > 65535 or c < 1 or c > 65535 then
    return nil, "expected HOSTPORT:CONTAINERPORT[/tcp|/udp], ports 1-65535"
  end
  if proto ~= "tcp" and proto ~= "udp" then return nil, "protocol must be tcp or udp" end
  return { host = h, container = c, proto = proto }
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
  { "t", "tty", help = "the command runs at your terminal (stdin must be one)" },
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
  { "p", "publish", arg = "HOSTPORT:PORT[/tcp|/udp]", list = true, check = check.publish,
    help = "map a host port to a container port" },
}

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

--- The container spec for run.lua's options and command.
-- @param o options from wbl.args.parse(M.options, ...)
-- @param argv the command and its arguments
-- @param id the container's id (its name, or a random one)
-- @return spec, or nil, message, errno (a message naming the option)
function M.spec(o, argv, id)
  local s = spec.new()
  local p = s.process
  p.args = argv
  p.cwd = o.workdir or "/"
  p.terminal = o.tty or false
  s.hostname = o.hostname or id:sub(1, 63)
  -- The environment: PATH, HOSTNAME, HOME, TERM with a terminal, then
  -- every -e KEY=VAL (KEY alone: the host's value, if set).
  spec.setenv(p.env, "HOSTNAME", s.hostname)
  spec.setenv(p.env, "HOME", "/root")
  if o.tty then spec.setenv(p.env, "TERM", os.getenv("TERM") or "xterm") end
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then spec.setenv(p.env, k, v)
    elseif os.getenv(kv) then spec.setenv(p.env, kv, os.getenv(kv)) end
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
    s.mounts[#s.mounts + 1] = { destination = v.path, type = "bind", source = v.host,
                                options = { "rbind", v.ro and "ro" or "rw" } }
    s.wbl.volume_sources[#s.wbl.volume_sources + 1] = v.host
  end
  for _, t in ipairs(o.tmpfs or {}) do
    local opts = { "nosuid", "nodev" }
    for x in t.data:gmatch("[^,]+") do opts[#opts + 1] = x end
    s.mounts[#s.mounts + 1] = { destination = t.path, type = "tmpfs", source = "tmpfs", options = opts }
  end
  -- Resources.
  local r, msg = resources(o)
  if not r then return nil, msg, E.EINVAL end
  s.linux.resources = r
  -- a swap limit docker made up is skipped where the kernel has no swap accounting
  s.wbl.swap_implicit = o.memory and not o.memory_swap or nil
  s.linux.cgroupsPath = (o.cgroup_parent or "wbl") .. "/" .. id
  -- The network.
  local mode = o.network or "bridge"
  s.wbl.network = mode
  s.wbl.ports = o.publish or {}
  if #s.wbl.ports > 0 and (mode == "none" or mode == "host") then
    return nil, ("-p needs a bridge network (not --network %s)"):format(mode), E.EINVAL
  end
  if mode == "host" then
    for i = #s.linux.namespaces, 1, -1 do
      if s.linux.namespaces[i].type == "network" then table.remove(s.linux.namespaces, i) end
    end
  end
  return spec.check(s)
end

return M
