--- A container's life on the host side: its id, its state directory, and
-- an undo list that tears down, in reverse order, everything made for it.
-- Whatever creates something registers its undo right after, so a failure
-- at any step leaves nothing behind.
local core = require "wbl.core"
local util = require "wbl.util"
local wbl = require "wbl"
local fs, E = core.fs, core.errno

local M = {}
local C = {}
C.__index = C

--- Where container state lives (WBL_STATE_DIR, default /run/wbl).
function M.state_root()
  return os.getenv("WBL_STATE_DIR") or "/run/wbl"
end

--- The default root file system: WBL_ROOTFS, or the busybox root made by
-- `make rootfs`.
function M.default_rootfs()
  return os.getenv("WBL_ROOTFS") or (wbl.home .. "/rootfs/busybox")
end

--- The namespaces a container gets: uts, ipc, pid, mnt, net, and cgroup
-- where the kernel has it.
function M.namespaces(opts)
  local ns = { "mnt", "uts", "ipc", "pid" }
  if not (opts and opts.network == "host") then ns[#ns + 1] = "net" end -- --network host
  if util.exists("/proc/self/ns/cgroup") then ns[#ns + 1] = "cgroup" end
  return table.concat(ns, ",")
end

--- A new container description (nothing is created yet).
function M.new(o)
  local id = o.name or util.random_hex(6)
  local c = setmetatable({
    id = id,
    hostname = o.hostname or id:sub(1, 63),
    state_dir = util.join(M.state_root(), id),
    undo = {},
  }, C)
  return c
end

--- Register fn(c) to run at teardown (last registered runs first).
function C:defer(what, fn)
  self.undo[#self.undo + 1] = { what, fn }
end

--- Make the state directory (the name is taken if it exists) and save
-- the state.  The directory goes at teardown.
function C:create()
  local ok, msg, en = fs.mkdir_p(M.state_root(), "0700")
  if not ok then return nil, msg, en end
  ok, msg, en = fs.mkdir(self.state_dir, "0700")
  if not ok then
    if en == E.EEXIST then msg = ("name %q is already in use (%s)"):format(self.id, self.state_dir) end
    return nil, msg, en
  end
  self:defer("remove " .. self.state_dir, function() return util.rm_rf(self.state_dir) end)
  return self:save()
end

--- The start time of a pid (field 22 of /proc/PID/stat): with the pid, it
-- tells a live container from a reused pid.
function M.starttime(pid)
  local s = fs.read_file("/proc/" .. pid .. "/stat")
  if not s then return nil end
  local after = s:match("%) (.*)$")
  local n = 2
  for f in after:gmatch("%S+") do
    n = n + 1
    if n == 22 then return tonumber(f) end
  end
end

--- Record the container's PID 1 (pid as the host sees it).
function C:set_pid(pid)
  self.pid = pid
  self.starttime = M.starttime(pid)
  return self:save()
end

local own_start = {} -- { pid, starttime } of this process (C:state)

--- What is saved: plain data only (no functions, no handles).
function C:state()
  local s = {}
  for k, v in pairs(self) do
    if type(v) ~= "function" and type(v) ~= "userdata" and k ~= "undo" then s[k] = v end
  end
  s.wbl_pid = core.proc.getpid()
  -- Our own start time never changes: read /proc once per process.
  if own_start[1] ~= s.wbl_pid then own_start = { s.wbl_pid, M.starttime(s.wbl_pid) } end
  s.wbl_starttime = own_start[2]
  return s
end

function C:save()
  local tmp = self.state_dir .. "/state.lua.tmp"
  local ok, msg, en = fs.write_file(tmp, util.serialise(self:state()), nil, "0600")
  if not ok then return nil, msg, en end
  return fs.rename(tmp, self.state_dir .. "/state.lua")
end

--- Undo everything, in reverse; report (do not stop at) failures.
-- @return true, or nil and the messages joined
function C:teardown()
  local errs = {}
  while #self.undo > 0 do
    local u = table.remove(self.undo)
    local ok, res, msg, en = pcall(u[2], self)
    wbl.trace("teardown: " .. u[1])
    if not ok then
      errs[#errs + 1] = u[1] .. ": " .. tostring(res)
    elseif res == nil or res == false then
      local name = en and wbl.errno_name(en)
      errs[#errs + 1] = u[1] .. ": " .. tostring(msg) .. (name and (" (" .. name .. ")") or "")
    end
  end
  if #errs > 0 then return nil, table.concat(errs, "; ") end
  return true
end

--- Load a saved state (for scripts/cleanup.lua).
function M.load(dir)
  local s, msg, en = fs.read_file(dir .. "/state.lua")
  if not s then return nil, msg, en end
  local st, err = util.unserialise(s, dir .. "/state.lua")
  if not st then return nil, err end
  return setmetatable(st, C)
end

--- Is the wbl that ran this container still alive?
function C:owner_alive()
  if not self.wbl_pid then return false end
  return M.starttime(self.wbl_pid) == self.wbl_starttime
end

--- All saved containers: a list of states.
function M.list()
  local names = fs.readdir(M.state_root()) or {}
  local out = {}
  table.sort(names)
  for _, n in ipairs(names) do
    local st = M.load(util.join(M.state_root(), n))
    if st then out[#out + 1] = st end
  end
  return out
end

--- Remove what dead containers left: those whose wbl is gone (SIGKILL,
-- a crash) leave their state directory and whatever it lists: cgroups,
-- port mappings, a veth and a lease, a --rm layer.  ids: a set of ids
-- to look at (nil: all).  report(what, ok, msg, errno), if given, hears
-- every removal.  Safe at any time and twice (what is gone counts as
-- removed); live containers are never touched.  run.lua and network.lua
-- call it first, so leftovers go without anyone asking; cleanup.lua too.
-- @return the list of ids reaped
function M.reap(ids, report)
  report = report or function() end
  local cgroup, net = require "wbl.cgroup", require "wbl.net"
  local out = {}
  for _, c in ipairs(M.list()) do
    if (not ids or ids[c.id]) and not c:owner_alive() then
      -- The container's processes died with its PID 1 (pdeathsig).
      if c.cgroup then report(c.id .. ": cgroup", cgroup.remove(c.cgroup)) end
      if c.net then report(c.id .. ": network", net.release(c)) end
      if c.rm and c.layer then report(c.id .. ": layer " .. c.layer, util.rm_rf(c.layer)) end
      report(c.id .. ": state " .. c.state_dir, util.rm_rf(c.state_dir))
      out[#out + 1] = c.id
    end
  end
  return out
end

--- The command's environment (a map): PATH, HOSTNAME, HOME, TERM with a
-- terminal, then every -e KEY=VAL (KEY alone: the host's value, if set).
function M.environment(opts, c)
  local env = {
    PATH = require("wbl.proc").default_path,
    HOSTNAME = c.hostname,
    HOME = "/root",
  }
  if opts.tty then env.TERM = os.getenv("TERM") or "xterm" end
  for _, kv in ipairs(opts.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then
      env[k] = v
    elseif os.getenv(kv) then
      env[kv] = os.getenv(kv)
    end
  end
  return env
end

--- -t runs the command at the caller's terminal: stdin must be one.
function M.check_tty()
  if not core.fd.isatty(0) then
    return nil, "the input device is not a terminal (drop -t, or run from one)", E.ENOTTY
  end
  return true
end

--- A root must be a directory holding something to run.
function M.check_root(root)
  local st, msg, en = fs.stat(root)
  if not st then return nil, msg, en end
  if st.type ~= "directory" then return nil, root .. ": not a directory", E.ENOTDIR end
  return true
end

return M
