--- IPv4 address management: CIDR arithmetic, and the leases of a network,
-- a file read and rewritten under an exclusive flock so that containers
-- started at once never get the same address.
--
-- A lease names its owner; the caller says whether an owner is alive
-- (wbl.net: the container's state; by default a process's pid and start
-- time).  A dead owner's lease is reclaimed by the next allocation.
local core = require "wbl.core"
local util = require "wbl.util"
local proc = require "wbl.proc"
local fs, E = core.fs, core.errno

local M = {}

--- "10.1.2.3" -> integer, or nil.
function M.ip_num(s)
  local a, b, c, d = tostring(s):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

--- integer -> "10.1.2.3"
function M.ip_str(n)
  return ("%d.%d.%d.%d"):format(n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)
end

--- "10.88.0.0/16" -> { net = integer (host bits cleared), len = 16 }, or
-- nil, message.
function M.cidr(s)
  local ip, len = tostring(s):match("^([%d%.]+)/(%d+)$")
  local n = ip and M.ip_num(ip)
  len = tonumber(len)
  if not n or not len or len > 32 then return nil, "expected an IPv4 ADDRESS/LEN" end
  local mask = len == 0 and 0 or (0xffffffff << (32 - len)) & 0xffffffff
  return { net = n & mask, len = len, mask = mask }
end

--- Do two CIDRs (tables from M.cidr) overlap?
function M.overlap(a, b)
  local len = math.min(a.len, b.len)
  local mask = len == 0 and 0 or (0xffffffff << (32 - len)) & 0xffffffff
  return a.net & mask == b.net & mask
end

--- The gateway of a subnet (its first host) and the range handed out.
function M.layout(subnet)
  local c = assert(M.cidr(subnet))
  local size = 1 << (32 - c.len)
  return { gateway = M.ip_str(c.net + 1), first = c.net + 2, last = c.net + size - 2, len = c.len }
end

--- Run fn() holding the exclusive lock lockfile (wbl.util.locked).
M.locked = util.locked

local function load(file)
  local s, msg, en = fs.read_file(file)
  if not s then
    if en == E.ENOENT then return {} end
    return nil, msg, en
  end
  return util.unserialise(s, file)
end

local function store(file, leases) return util.replace_file(file, util.serialise(leases)) end

--- The default liveness of a lease: its owner is a process { pid,
-- starttime } that still runs.
M.owner_alive = proc.alive

--- The leases of a network: a map address -> { id, pid, starttime, veth }.
function M.leases(dir)
  return load(dir .. "/leases.lua")
end

--- Allocate the lowest free address of subnet for owner (a table: { id,
-- veth, ... }), under dir/lock.  alive(lease) tells a live owner (default
-- M.owner_alive); on_stale(lease) is called for each lease whose owner is
-- dead, before its address is reused.
-- @return address (a string), or nil, message, errno
function M.allocate(dir, subnet, owner, on_stale, alive)
  alive = alive or M.owner_alive
  local lay = M.layout(subnet)
  return M.locked(dir .. "/lock", function()
    local leases, msg, en = load(dir .. "/leases.lua")
    if not leases then return nil, msg, en end
    for ip, l in pairs(leases) do
      if not alive(l) then
        if on_stale then on_stale(l) end
        leases[ip] = nil
      end
    end
    for n = lay.first, lay.last do
      local ip = M.ip_str(n)
      if not leases[ip] then
        leases[ip] = owner
        local ok
        ok, msg, en = store(dir .. "/leases.lua", leases)
        if not ok then return nil, msg, en end
        return ip
      end
    end
    return nil, ("no free address left in %s"):format(subnet), E.ENOSPC
  end)
end

--- Release address ip if id holds it (a second release is a no-op).
function M.release(dir, ip, id)
  return M.locked(dir .. "/lock", function()
    local leases, msg, en = load(dir .. "/leases.lua")
    if not leases then return nil, msg, en end
    if leases[ip] and leases[ip].id == id then
      leases[ip] = nil
      return store(dir .. "/leases.lua", leases)
    end
    return true
  end)
end

return M
