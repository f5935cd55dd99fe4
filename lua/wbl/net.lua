--- Networking policy, the front: the modes, a container's own side (its
-- veth, /etc files, eth0, lo) and, through wbl.bridge (loaded only when a
-- bridge network is used: a start loads what it uses), the networks
-- themselves (a bridge, a subnet, NAT, leases, port mappings, names).
-- wbl.net.create, .remove, .list, .leave ... are wbl.bridge's, reached
-- here too.  All of it over netlink (wbl.core.nl).
--
-- Modes (--network): none (lo only), host (the host's network namespace),
-- bridge (the default network, made on first use), or a network NAME made
-- by scripts/network.lua.
--
-- Teardown of the veth: nothing deletes it.  The container's end lives in
-- the container's network namespace, which dies with its PID 1 and takes
-- the pair with it.  Measured here (spec netns, kernel 6.18, 2 cores):
-- RTM_DELLINK of a veth costs 16-30 ms each, serialised (50 veths: 805 ms);
-- a dying namespace costs wbl nothing and the kernel removes the pair
-- 13-50 ms later, batched (50 veths: all gone 34 ms after the last exit).
-- scripts/cleanup.lua deletes a host end that is still there.
local core = require "wbl.core"
local util = require "wbl.util"
local bridge = util.lazy "wbl.bridge" -- bridge networks: loaded when one is used
local fs, E = core.fs, core.errno

-- What is not here (networks: create, remove, list, leases, leave, port
-- mappings, names) is wbl.bridge's, reached through this module too.
local M = setmetatable({}, { __index = function(_, k) return bridge[k] end })

M.default = "bridge"   -- the default network's name
M.default_bridge = "wbl0"

--- Bring `lo` up in the calling process's network namespace.
function M.loopback_up()
  local nl, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local ok
  ok, msg, en = nl:link_set("lo", { up = true })
  nl:close()
  return ok, msg, en
end

-- FNV-1a, 32 bits, as 8 hex digits: short stable names for links.
local function hash8(s)
  local h = 0x811c9dc5
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 0x01000193) & 0xffffffff
  end
  return ("%08x"):format(h)
end

--- The host end of a container's veth (IFNAMSIZ: 15 characters at most).
function M.veth_name(id) return "wblv" .. hash8(id) end

--- The bridge of a network.
function M.bridge_name(name)
  if name == M.default then return M.default_bridge end
  if #name <= 11 and name:match("^[%w_%-]+$") then return "wbl-" .. name end
  return "wblb" .. hash8(name)
end

--- Before anything is made: the network a spec names exists (or is made
-- on first use: the default), and -p has a bridge to map to.
function M.check(s)
  local mode = s.wbl.network or "none"
  if #(s.wbl.ports or {}) > 0 and (mode == "none" or mode == "host") then
    return nil, ("-p needs a bridge network (not --network %s)"):format(mode), E.EINVAL
  end
  if mode == "none" or mode == "host" or mode == M.default then return true end
  local net, msg, en = bridge.load(mode)
  if not net then return nil, msg, en end
  return true
end

-- The host side of a container ------------------------------------------------

--- Join the container's network (c.spec.wbl.network): none and host make
-- nothing; a bridge network leases an address (wbl.bridge.join, released
-- by wbl.container's teardown, M.leave).  Sets c.net (and saves the state).
function M.join(c)
  local mode = c.spec.wbl.network or "none"
  c.net = { mode = mode }
  -- nothing made, nothing to undo: the next save records it
  if mode == "none" or mode == "host" then return true end
  return bridge.join(c)
end

--- The veth: its host end on the bridge, up; its other end made directly
-- in the container's network namespace (that of pid) as eth0.  Nothing to
-- undo: the pair goes with the container's namespace (see the top).
function M.veth(c, pid)
  local n = c.net
  if not n.veth then return true end
  local nl <close>, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local ok
  ok, msg, en = nl:link_add { name = n.veth, kind = "veth", peer = { name = "eth0", pid = pid } }
  if not ok then return nil, msg, en end
  ok, msg, en = nl:link_set(n.veth, { master = n.bridge, up = true })
  if not ok then nl:link_del(n.veth); return nil, msg, en end
  return true
end

--- Port mappings (-p; wbl.bridge.publish): only on a bridge network.
function M.publish(c)
  if not c.net.veth or #(c.spec.wbl.ports or {}) == 0 then return true end
  return bridge.publish(c)
end

-- resolv.conf for the container: the host's, without loopback servers
-- (unreachable from another namespace); systemd-resolved's upstream list
-- when the host's points at its stub.
local function resolv_conf()
  local src = fs.read_file("/run/systemd/resolve/resolv.conf") or fs.read_file("/etc/resolv.conf") or ""
  local out = {}
  for line in src:gmatch("[^\n]+") do
    local ns = line:match("^%s*nameserver%s+(%S+)")
    if ns then
      if not (ns:match("^127%.") or ns == "::1") then out[#out + 1] = line end
    elseif line:match("^%s*search%s") or line:match("^%s*options%s") then
      out[#out + 1] = line
    end
  end
  return table.concat(out, "\n") .. (#out > 0 and "\n" or "")
end

M.etc_names = { "hosts", "hostname", "resolv.conf" }

--- /etc/hosts, /etc/hostname and /etc/resolv.conf of the container, in
-- its state directory (init.lua binds them over the root's: the root is
-- never written).
function M.etc_files(c)
  if c.spec.wbl.etc_files == false then return true end -- OCI: the caller's mounts bring them
  local n = c.net or { mode = "none" }
  local hostname = c.spec.hostname or c.id:sub(1, 63)
  local hosts = { "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback" }
  if n.ip then hosts[#hosts + 1] = n.ip .. "\t" .. hostname
  else hosts[1] = hosts[1] .. " " .. hostname end
  -- a named network's containers know each other by name (M.announce)
  for _, peer in ipairs(n.ip and n.name ~= M.default and bridge.peers(c) or {}) do
    hosts[#hosts + 1] = M.hosts_line(peer.ip, peer.id, peer.hostname)
  end
  local files = {
    hosts = table.concat(hosts, "\n") .. "\n",
    hostname = hostname .. "\n",
    ["resolv.conf"] = n.mode == "none" and "" or resolv_conf(),
  }
  if n.mode == "host" then files.hosts = fs.read_file("/etc/hosts") or files.hosts end
  for _, name in ipairs(M.etc_names) do
    local ok, msg, en = fs.write_file(util.join(c.state_dir, name), files[name], nil, "0644")
    if not ok then return nil, msg, en end
  end
  return true
end

--- "IP<TAB>NAME HOSTNAME" (the name once if both are the same).
function M.hosts_line(ip, name, hostname)
  return ip .. "\t" .. name .. ((hostname and hostname ~= name) and (" " .. hostname) or "")
end

--- After c's /etc files: its peers on a named network learn its name
-- (wbl.bridge.join_names).
function M.join_names(c)
  local n = c.net
  if not (n and n.ip and n.name ~= M.default) then return true end
  return bridge.join_names(c)
end

-- The container side (init.lua) ------------------------------------------------

--- eth0: the address, up, the default route via the bridge.
function M.configure(n)
  if not n or not n.ip then return true end
  require("wbl.proc").await_go() -- (a child spawned early: the host moves the veth in first)
  local nl <close>, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local ok
  ok, msg, en = nl:addr_add("eth0", n.ip .. "/" .. n.prefixlen)
  if not ok then return nil, msg, en end
  ok, msg, en = nl:link_set("eth0", { up = true })
  if not ok then return nil, msg, en end
  return nl:route_add { dst = "default", gateway = n.gateway, dev = "eth0" }
end

--- Bind the state directory's /etc files over the root's, writable as
-- docker's are (the container's own copies: a write never reaches the
-- image, nor another container; read-only with --read-only).
-- Every program expects them: where the image has no such file, an empty
-- one is made as the mount point, in the container's write layer (the
-- overlay's upper: the image is never written).  The paths are resolved
-- inside the root (an image's /etc may be a symlink out of it).
function M.bind_etc(c)
  if c.spec.wbl.etc_files == false then return true end
  local inroot = core.inroot
  for _, name in ipairs(M.etc_names) do
    local fd, where, en = inroot.open(c.root, "/etc/" .. name, "file")
    -- (an image whose /etc is a read-only file system, sysfs say, goes without)
    if not fd and en ~= E.EROFS then return nil, where, en end
    if fd then
      local ok, msg
      local tree = c._userns and c._userns.etc[name] -- a user namespace's: opened by the host (wbl.userns)
      if tree then ok, msg, en = inroot.attach(tree, fd)
      else ok, msg, en = inroot.bind(util.join(c.state_dir, name), fd, c.spec.root.readonly and "ro" or nil) end
      fd:close()
      if not ok then return nil, msg .. " on " .. tostring(where), en end
    end
  end
  return true
end

-- Leftovers -------------------------------------------------------------------

--- Delete a container's host veth if it is still there (a dead container's
-- goes with its namespace; this is for one left by a killed wbl).
function M.delete_veth(c)
  local n = c.net
  if not (n and n.veth) then return true end
  local nl <close>, msg, en = core.nl.open()
  if not nl then return nil, msg, en end
  local ok
  ok, msg, en = nl:link_del(n.veth)
  if not ok and en ~= E.ENODEV then return nil, msg, en end
  return true
end

return M
