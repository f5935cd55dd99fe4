--- Bridge networks (wbl.net is the front: the modes, a container's own
-- side; it hands everything of a bridge network here, loaded only then):
-- networks (a bridge, a subnet, NAT), a container's place on one (an
-- address, port mappings, its name in the others' /etc/hosts).  All of it
-- over netlink (wbl.core.nl); NAT rules through wbl.nat; addresses
-- through wbl.ipam.
--
-- State lives in the state root (wbl.config: ROOT/networks), one directory
-- per network: network.lua (its description), leases.lua, lock.  A lease
-- is held by a container id; it is live while that container's state
-- says the container is (wbl.state.alive), so a dead container's address
-- is reclaimed by the next allocation.
local core = require "wbl.core"
local util = require "wbl.util"
local config = require "wbl.config"
local proc = require "wbl.proc"
local state = require "wbl.state"
local ipam = require "wbl.ipam"
local nat = require "wbl.nat"
local front = require "wbl.net"
local fs, E = core.fs, core.errno

local M = {}

function M.dir() return config.networks() end

-- Is the container holding a lease still there (running, or managed)?
local function lease_alive(l)
  if l.pid then return proc.alive(l) end -- a lease held by a process
  local st = l.id and state.load(l.id)
  return st ~= nil and state.alive(st)
end
M.lease_alive = lease_alive
local function netdir(name) return util.join(M.dir(), name) end

--- A network's description, or nil, message, ENOENT.
function M.load(name)
  local file = netdir(name) .. "/network.lua"
  local s, msg, en = fs.read_file(file)
  if not s then
    if en == E.ENOENT then return nil, ("no network named %q (create it with scripts/network.lua)"):format(name), en end
    return nil, msg, en
  end
  return util.unserialise(s, file)
end

--- Every network: a sorted list of descriptions, each with `leases` (count).
function M.list()
  local out = {}
  local names = fs.readdir(M.dir()) or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local net = M.load(n)
    if net then
      local count = 0
      for _, l in pairs(ipam.leases(netdir(n)) or {}) do
        if lease_alive(l) then count = count + 1 end
      end
      net.leases = count
      out[#out + 1] = net
    end
  end
  return out
end

--- The IPv4 prefixes the host already routes or owns (every table).
function M.host_prefixes()
  local nl <close>, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local routes
  routes, msg, en = nl:routes("inet")
  if not routes then return nil, msg, en end
  local out = {}
  for _, r in ipairs(routes) do
    if r.dst ~= "default" then
      out[#out + 1] = { cidr = assert(ipam.cidr(r.dst .. "/" .. r.dst_len)), text = r.dst .. "/" .. r.dst_len }
    end
  end
  return out
end

-- Is subnet free: routed by the host, or taken by another network?
local function subnet_clash(subnet, taken)
  local c = assert(ipam.cidr(subnet))
  for _, p in ipairs(taken) do
    if ipam.overlap(c, p.cidr) then return p.text end
  end
end

--- Candidates for a network's subnet: private /16s.
function M.candidates()
  local out = {}
  for i = 88, 254 do out[#out + 1] = ("10.%d.0.0/16"):format(i) end
  for i = 17, 31 do out[#out + 1] = ("172.%d.0.0/16"):format(i) end
  return out
end

local function taken_prefixes()
  local taken, msg, en = M.host_prefixes()
  if not taken then return nil, msg, en end
  for _, n in ipairs(M.list()) do
    taken[#taken + 1] = { cidr = assert(ipam.cidr(n.subnet)), text = n.subnet .. " (network " .. n.name .. ")" }
  end
  return taken
end

-- Make the bridge of net, its gateway address, and its masquerade.
local function make_bridge(net)
  local nl <close>, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local ok
  ok, msg, en = nl:link_add { name = net.bridge, kind = "bridge" }
  if not ok then return nil, msg, en end
  local lay = ipam.layout(net.subnet)
  local function undo(...)
    nl:link_del(net.bridge)
    return ...
  end
  ok, msg, en = nl:addr_add(net.bridge, lay.gateway .. "/" .. lay.len)
  if not ok then return undo(nil, msg, en) end
  ok, msg, en = nl:link_set(net.bridge, { up = true })
  if not ok then return undo(nil, msg, en) end
  -- -p answers on the host's 127.0.0.1 too (wbl.nat explains how)
  ok, msg, en = nat.route_localnet(net.bridge)
  if not ok then return undo(nil, "route_localnet: " .. tostring(msg), en) end
  local was
  was, msg, en = nat.enable_forwarding()
  if not was then return undo(nil, "ip_forward: " .. tostring(msg), en) end
  -- wbl turned routing on: the last network to go turns it off again
  if was == "0" then fs.write_file(M.dir() .. "/forwarding-was-off", "") end
  nat.unmasquerade(net.nat, net.bridge, net.subnet, net.bridge) -- a leftover, if any
  ok, msg, en = nat.masquerade(net.nat, net.bridge, net.subnet, net.bridge)
  if not ok then return undo(nil, msg, en) end
  return true
end

local function create_locked(name, o)
  if M.load(name) then
    return nil, ("network %q already exists"):format(name), E.EEXIST
  end
  local taken, msg, en = taken_prefixes()
  if not taken then return nil, msg, en end
  local subnet = o.subnet
  if subnet then
    local c
    c, msg = ipam.cidr(subnet)
    if not c then return nil, ("subnet %s: %s"):format(subnet, msg), E.EINVAL end
    if c.len > 30 then return nil, ("subnet %s: too small (at most /30)"):format(subnet), E.EINVAL end
    subnet = ipam.ip_str(c.net) .. "/" .. c.len
    local clash = subnet_clash(subnet, taken)
    if clash then return nil, ("subnet %s overlaps %s"):format(subnet, clash), E.EADDRINUSE end
  else
    for _, cand in ipairs(M.candidates()) do
      if not subnet_clash(cand, taken) then subnet = cand; break end
    end
    if not subnet then return nil, "no free private /16 left for a network", E.EADDRINUSE end
  end
  local backend
  backend, msg, en = nat.backend()
  if not backend then return nil, msg, en end
  local net = { name = name, bridge = o.bridge or front.bridge_name(name), subnet = subnet,
                gateway = ipam.layout(subnet).gateway, nat = backend }
  local ok
  ok, msg, en = fs.mkdir_p(netdir(name), "0700")
  if not ok then return nil, msg, en end
  ok, msg, en = make_bridge(net)
  if not ok then util.rm_rf(netdir(name)); return nil, msg, en end
  ok, msg, en = fs.write_file(netdir(name) .. "/network.lua", util.serialise(net), nil, "0600")
  if not ok then
    M.teardown_bridge(net)
    util.rm_rf(netdir(name))
    return nil, msg, en
  end
  return net
end

local function locked(fn)
  local ok, msg, en = fs.mkdir_p(M.dir(), "0700")
  if not ok then return nil, msg, en end
  return ipam.locked(M.dir() .. "/lock", fn)
end

--- Create a network: a bridge with the subnet's first address, NAT for
-- what leaves it.  o.subnet: a CIDR (default: the first private /16 the
-- host does not route and no other network uses).
-- @return the description, or nil, message, errno (EEXIST, EADDRINUSE)
function M.create(name, o)
  return locked(function() return create_locked(name, o or {}) end)
end

--- Remove a bridge and its NAT (what is already gone counts as removed).
function M.teardown_bridge(net)
  local ok, msg, en = nat.unmasquerade(net.nat, net.bridge, net.subnet, net.bridge)
  if not ok then return nil, msg, en end
  local nl <close>, msg2, en2 = core.nl.open()
  if not nl then return nil, msg2, en2 end
  ok, msg, en = nl:link_del(net.bridge)
  if not ok and en ~= E.ENODEV then return nil, msg, en end
  return true
end

--- Remove a network; refused (EBUSY) while a live container uses it.
function M.remove(name)
  return locked(function()
    local net, msg, en = M.load(name)
    if not net then return nil, msg, en end
    local ok
    ok, msg, en = ipam.locked(netdir(name) .. "/lock", function()
      for ip, l in pairs(ipam.leases(netdir(name)) or {}) do
        if lease_alive(l) then
          return nil, ("network %q is in use by container %s (%s)"):format(name, l.id, ip), E.EBUSY
        end
        M.release_stale(net, l)
      end
      return true
    end)
    if not ok then return nil, msg, en end
    ok, msg, en = M.teardown_bridge(net)
    if not ok then return nil, msg, en end
    ok, msg, en = util.rm_rf(netdir(name))
    if not ok then return nil, msg, en end
    return M.restore_forwarding()
  end)
end

--- Under the lock, once a network is gone: with no network left, put
-- net.ipv4.ip_forward back to 0 if wbl turned it on.
function M.restore_forwarding()
  local mark = M.dir() .. "/forwarding-was-off"
  if #M.list() > 0 or not util.exists(mark) then return true end
  local ok, msg, en = nat.restore_forwarding()
  if not ok then return nil, msg, en end
  return fs.unlink(mark)
end

-- The network a container joins, its bridge there (remade if it went
-- away); the default network is created on first use.  Under the lock.
local function ensure_locked(name)
  local net, msg, en = M.load(name)
  if not net then
    if name ~= front.default then return nil, msg, en end
    return create_locked(name, {})
  end
  local nl <close> = assert(core.nl.open())
  if not nl:link(net.bridge) then
    local ok
    ok, msg, en = make_bridge(net)
    if not ok then return nil, msg, en end
  end
  return net
end

function M.ensure(name)
  return locked(function() return ensure_locked(name) end)
end

-- The default network lives while containers use it: made by the first,
-- removed (bridge, NAT, state; ip_forward put back if it turned it on
-- and no other network is left) once the last has been gone for a grace
-- period.  Named networks stay until scripts/network.lua removes them.
--
-- Why a grace period: removing a bridge costs ~50 ms here (RCU), making
-- one ~30 ms; a script that runs containers one after another would pay
-- both every time.  WBL_NET_GRACE_MS (default 2000; 0: at once).
M.grace_ms = tonumber(os.getenv("WBL_NET_GRACE_MS") or "") or 2000

-- Under the lock.
local function retire_default_locked()
  local net = M.load(front.default)
  if not net or next(ipam.leases(netdir(front.default)) or {}) then return true end
  local ok, msg, en = M.teardown_bridge(net)
  if not ok then return nil, msg, en end
  ok, msg, en = util.rm_rf(netdir(front.default))
  if not ok then return nil, msg, en end
  return M.restore_forwarding()
end

--- What a dead container left on a network: its port mappings, its veth.
function M.release_stale(net, lease)
  if lease.veth then
    nat.unpublish(net.nat, lease.veth)
    local nl = core.nl.open()
    if nl then nl:link_del(lease.veth); nl:close() end
  end
end

-- The host side of a container ------------------------------------------------

--- Join a bridge network (wbl.net.join, for c.spec.wbl.network): make
-- sure it exists and lease an address (released by wbl.container's
-- teardown, M.leave).  Sets c.net and saves the state.
function M.join(c)
  local mode = c.spec.wbl.network
  local veth = front.veth_name(c.id)
  local owner = { id = c.id, veth = veth }
  -- network and lease under one lock: the last container of the default
  -- network cannot remove it between the two
  local net, ip, msg, en
  net, msg, en = locked(function()
    local n, m, e = ensure_locked(mode)
    if not n then return nil, m, e end
    ip, m, e = ipam.allocate(netdir(mode), n.subnet, owner, function(l) M.release_stale(n, l) end, lease_alive)
    if not ip then
      if mode == front.default then retire_default_locked() end
      return nil, m, e
    end
    return n
  end)
  if not net then return nil, msg, en end
  c.net = { mode = mode, name = net.name, bridge = net.bridge, nat = net.nat, veth = veth, ip = ip,
            prefixlen = ipam.layout(net.subnet).len, gateway = net.gateway }
  return state.save(c)
end

-- The reaper: a detached process that removes the default network once
-- it has been unused for the grace period.  One at a time (reaper.lua
-- holds its pid); a container leaving while it waits marks "touched",
-- which starts the wait again.
local function reaper_alive(dir)
  local s = fs.read_file(dir .. "/reaper.lua")
  local r = s and util.unserialise(s)
  return r ~= nil and proc.alive(r)
end

local function reap(dir)
  local P = core.proc
  P.setsid()
  -- hold nothing of the caller's: its pipes would wait for us
  local null = core.fd.open("/dev/null", "rdwr")
  for fd = 0, 2 do null:dup2(fd) end
  null:close()
  for _, name in ipairs(fs.readdir("/proc/self/fd") or {}) do
    local fd = tonumber(name)
    if fd and fd > 2 then core.fd.close(fd) end
  end
  fs.write_file(dir .. "/reaper.lua", util.serialise(proc.identity()))
  repeat
    P.sigwait({ "SIGUSR2" }, M.grace_ms) -- sleep
    local again = locked(function()
      if fs.unlink(dir .. "/touched") then return true end
      fs.unlink(dir .. "/reaper.lua")
      retire_default_locked()
      return false
    end)
  until not again
end

local function spawn_reaper(dir)
  local P = core.proc
  local pid, msg, en = P.fork()
  if not pid then return nil, msg, en end
  if pid == 0 then -- fork again, so that init reaps the reaper
    if P.fork() == 0 then pcall(reap, dir) end
    P._exit(0)
  end
  P.waitpid(pid)
  return true
end

--- Remove the default network now if no container uses it and no reaper
-- is waiting to (scripts/cleanup.lua: after a reaper was killed).
function M.prune_default()
  return locked(function()
    local dir = netdir(front.default)
    if not util.exists(dir) or reaper_alive(dir) then return true end
    return retire_default_locked()
  end)
end

--- Give back a container's address; the last one out of the default
-- network has it removed (after the grace period).
function M.leave(c)
  local n = c.net
  if not util.exists(netdir(n.name)) then return true end -- the network is gone, and its leases
  return locked(function()
    local ok, msg, en = ipam.release(netdir(n.name), n.ip, c.id)
    if not ok then return nil, msg, en end
    if n.name ~= front.default then M.announce(c, false) end
    if n.name ~= front.default or next(ipam.leases(netdir(n.name)) or {}) then return true end
    if M.grace_ms <= 0 then return retire_default_locked() end
    local dir = netdir(n.name)
    if reaper_alive(dir) then return fs.write_file(dir .. "/touched", "") end
    return spawn_reaper(dir)
  end)
end

-- Published ports -------------------------------------------------------------

-- Who listens on the host (this network namespace): "tcp/8080" ->
-- { ip = "0.0.0.0", inode = N }, from /proc/net/{tcp,tcp6,udp,udp6}.
local function host_listeners()
  local out = {}
  for _, f in ipairs { "tcp", "tcp6", "udp", "udp6" } do
    local text = fs.read_file("/proc/net/" .. f) or ""
    local proto = f:sub(1, 3)
    for line in text:gmatch("[^\n]+") do
      local addr, port, st, inode =
        line:match("^%s*%d+:%s+(%x+):(%x+)%s+%x+:%x+%s+(%x+)%s+%S+%s+%S+%s+%S+%s+%d+%s+%d+%s+(%d+)")
      -- tcp: LISTEN (0A); udp: any bound socket
      if addr and (proto == "udp" or st == "0A") then
        local ip = "0.0.0.0"
        if #addr == 8 and addr ~= "00000000" then
          local n = tonumber(addr, 16)
          ip = ("%d.%d.%d.%d"):format(n & 255, n >> 8 & 255, n >> 16 & 255, n >> 24 & 255) -- little-endian
        end
        local key = proto .. "/" .. tonumber(port, 16)
        out[key] = out[key] or { ip = ip, inode = inode }
      end
    end
  end
  return out
end

-- The process holding a socket inode (for the message), e.g. "python3 (pid 42)".
local function socket_owner(inode)
  local want = "socket:[" .. inode .. "]"
  for _, pid in ipairs(fs.readdir("/proc") or {}) do
    if pid:match("^%d+$") then
      for _, fd in ipairs(fs.readdir("/proc/" .. pid .. "/fd") or {}) do
        if fs.readlink("/proc/" .. pid .. "/fd/" .. fd) == want then
          local comm = (fs.read_file("/proc/" .. pid .. "/comm") or "?"):gsub("%s+$", "")
          return ("%s (pid %s)"):format(comm, pid)
        end
      end
    end
  end
  return "a process of the host"
end

local function overlaps(a, b) return a == "0.0.0.0" or b == "0.0.0.0" or a == b end

--- Reserve the host ports of c's mappings (c.spec.wbl.ports) under the
-- networks' lock: refused (EADDRINUSE, naming the holder) when another
-- live container maps the same port, or a host program listens on it; a
-- mapping without a host port gets a free one (32768-60999).  The
-- reservations (ROOT/networks/ports.lua) go with the container.
-- @return the mappings, each with its host port
function M.reserve_ports(c)
  local wanted = c.spec.wbl.ports or {}
  if #wanted == 0 then return {} end
  return locked(function()
    local file = M.dir() .. "/ports.lua"
    local s0 = fs.read_file(file)
    local taken = s0 and util.unserialise(s0) or {}
    for key, r in pairs(taken) do
      if r.id ~= c.id and not lease_alive(r) then taken[key] = nil end
    end
    local listening = host_listeners()
    local function free(proto, port, ip)
      local key = proto .. "/" .. port
      local r = taken[key]
      if r and r.id ~= c.id and overlaps(r.ip, ip) then return nil, ("container %s"):format(r.id) end
      local l = listening[key]
      if l and overlaps(l.ip, ip) then return nil, socket_owner(l.inode) end
      return true
    end
    local out = {}
    for _, p in ipairs(wanted) do
      local m = { ip = p.ip or "0.0.0.0", host = p.host, container = p.container, proto = p.proto }
      if m.host then
        local ok, holder = free(m.proto, m.host, m.ip)
        if not ok then
          return nil, ("%s:%d/%s is already taken by %s"):format(m.ip, m.host, m.proto, holder), E.EADDRINUSE
        end
      else
        for port = 32768, 60999 do
          if free(m.proto, port, m.ip) then m.host = port; break end
        end
        if not m.host then return nil, "-p: no free host port left", E.EADDRINUSE end
      end
      taken[m.proto .. "/" .. m.host] = { id = c.id, ip = m.ip }
      out[#out + 1] = m
    end
    local ok, msg, en = fs.write_file(file, util.serialise(taken), nil, "0600")
    if not ok then return nil, msg, en end
    return out
  end)
end

--- Give back c's reserved host ports.
function M.release_ports(c)
  return locked(function()
    local file = M.dir() .. "/ports.lua"
    local s0 = fs.read_file(file)
    if not s0 then return true end
    local taken = util.unserialise(s0) or {}
    for key, r in pairs(taken) do
      if r.id == c.id then taken[key] = nil end
    end
    return fs.write_file(file, util.serialise(taken), nil, "0600")
  end)
end

--- Port mappings (c.spec.wbl.ports, -p): DNAT from the host's addresses
-- (or the one given) to the container's.  The host ports are reserved
-- first (M.reserve_ports); all of it is recorded (and saved) before the
-- rules are made, so the teardown removes them even when wbl dies half-way.
function M.publish(c)
  local n = c.net
  if not n.veth or #(c.spec.wbl.ports or {}) == 0 then return true end
  n.published = true -- reservations and rules, from here on
  local ports, msg, en = M.reserve_ports(c)
  if not ports then return nil, msg, en end
  n.ports = ports
  local ok
  ok, msg, en = state.save(c)
  if not ok then return nil, msg, en end
  return nat.publish(n.nat, n.veth, n.ip, ports)
end

--- Remove c's port mappings and give their host ports back.
function M.unpublish(c)
  local n = c.net
  local ok, msg, en = nat.unpublish(n.nat, n.veth)
  if not ok then return nil, msg, en end
  return M.release_ports(c)
end

-- Names on a named network: as docker's user networks resolve their
-- containers by name, each container's /etc/hosts (the file in its state
-- directory, bound into it) lists the others, kept current as they come
-- and go.  The files are rewritten in place: the bind mount keeps the inode.

--- The other live containers on c's network: { ip, id, hostname, state_dir }.
function M.peers(c)
  local out = {}
  for ip, l in pairs(ipam.leases(netdir(c.net.name)) or {}) do
    if l.id ~= c.id then
      local st = state.load(l.id)
      if st and state.alive(st) then
        out[#out + 1] = { ip = ip, id = st.id, hostname = st.spec.hostname, state_dir = st.state_dir }
      end
    end
  end
  table.sort(out, function(a, b) return a.ip < b.ip end)
  return out
end

--- Tell c's peers that c came (add its line to their /etc/hosts) or went
-- (remove the lines of its address).
function M.announce(c, here)
  local n = c.net
  local line = front.hosts_line(n.ip, c.id, c.spec.hostname)
  for _, peer in ipairs(M.peers(c)) do
    local file = peer.state_dir .. "/hosts"
    local text = fs.read_file(file)
    if text then
      local keep = {}
      for l in text:gmatch("[^\n]+") do
        if l:sub(1, #n.ip + 1) ~= n.ip .. "\t" then keep[#keep + 1] = l end
      end
      if here then keep[#keep + 1] = line end
      fs.write_file(file, table.concat(keep, "\n") .. "\n", "trunc")
    end
  end
  return true
end

--- After c's /etc files: its peers learn its name (under the networks' lock).
function M.join_names(c)
  local n = c.net
  if not (n and n.ip and n.name ~= front.default) then return true end
  return locked(function() return M.announce(c, true) end)
end

return M
