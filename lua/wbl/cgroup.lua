--- Cgroups: a container's resource limits, and the handle that tracks and
-- kills every process it makes.
--
-- The layout is found at run time from /proc/self/mountinfo:
--   v2      one cgroup2 hierarchy with the controllers (/sys/fs/cgroup);
--   hybrid  v1 hierarchies for the controllers (/sys/fs/cgroup/memory,
--           .../cpu, ...) plus a cgroup2 hierarchy without them
--           (/sys/fs/cgroup/unified), used for tracking and killing;
--   v1      v1 hierarchies only.
-- Each controller is taken from cgroup2 when its root lists it in
-- cgroup.controllers, otherwise from its v1 mount.  A container gets a
-- directory PARENT/ID (PARENT defaults to "wbl") in every hierarchy it
-- uses; the description returned by M.create is plain data, saved with
-- the container, so scripts/cleanup.lua can remove what a killed wbl left.
--
-- Every function returns a value (or true), or nil, message, errno; the
-- messages name the file and, for limits, the option.
local core = require "wbl.core"
local fs, E = core.fs, core.errno

local M = {}

--- The controllers wbl sets limits with, and the v1 hierarchies a
-- container also joins (cpuacct for usage, freezer to kill on v1,
-- devices for the device rules, wbl.devices; cgroup2 has no devices
-- controller: a BPF program on the directory does that there).
M.controllers = { "cpu", "cpuset", "memory", "pids" }
M.v1_extra = { "cpuacct", "freezer", "devices" }

--- Which v1 hierarchies a container joins (lim.hierarchies, from the
-- spec's wbl.cgroups).  "all" (an OCI runtime's default, as runc and crun
-- do): every one of the lists above.  "needed" (wbl's docker front end):
-- memory (its usage, OOM kills) and devices (the device rules) always,
-- the others only for a limit (cpu, cpuset, pids); where there is a
-- cgroup2 directory (hybrid), it counts cpu usage and threads, freezes
-- and kills, so cpuacct and freezer only on a host without one.  Each
-- hierarchy costs a start ~0.07 ms (a mkdir, a join, a mount in the
-- container, an rmdir); a limit set later (M.update) joins its
-- hierarchy then.
M.always = { memory = true, devices = true }

--- The cfs period (us) --cpus is expressed in, as docker does.
M.cpu_period = 100000

local sleep_ms = require("wbl.util").sleep_ms

local function read(path)
  local s, msg, en = fs.read_file(path)
  if not s then return nil, msg, en end
  return (s:gsub("%s+$", ""))
end

-- Write one value to an existing cgroup file (one write(2)).
local function write(path, value)
  return fs.write_file(path, tostring(value), "")
end

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[w] = true end
  return t
end

-- mountinfo escapes space, tab, newline and backslash as \ooo.
local function unescape(s)
  return (s:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end))
end

--- Parse mountinfo text into the cgroup layout:
-- { kind = "v2"|"hybrid"|"v1"|"none", unified = MOUNTPOINT|nil,
--   v2 = { controller = true }, v1 = { controller = MOUNTPOINT },
--   v1_options = { MOUNTPOINT = "memory" } (what a new mount of that
--   hierarchy names: its super options but rw, ro and release_agent) }
-- Only mounts of a hierarchy's root count (not binds of a subtree).
-- (Every start parses it: only cgroup lines are looked at closely.)
function M.parse_mountinfo(text)
  local l = { v1 = {}, v2 = {}, v1_options = {} }
  for line in text:gmatch("[^\n]+") do
    -- ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
    local root, point, fstype, super
    if line:find(" - cgroup", 1, true) then
      root, point, fstype, super = line:match("^%S+ %S+ %S+ (%S+) (%S+) .-%- (%S+) %S+ (%S*)")
    end
    if root == "/" then
      point = unescape(point)
      if fstype == "cgroup2" and not l.unified then
        l.unified = point
      elseif fstype == "cgroup" then
        local opts = {}
        for opt in super:gmatch("[^,]+") do
          if not opt:find("=", 1, true) and opt ~= "rw" and opt ~= "ro" and not l.v1[opt] then
            l.v1[opt] = point
          end
          if opt ~= "rw" and opt ~= "ro" and not opt:match("^release_agent=") then opts[#opts + 1] = opt end
        end
        l.v1_options[point] = l.v1_options[point] or table.concat(opts, ",")
      end
    end
  end
  return l
end

--- The layout of this host (see M.parse_mountinfo), with the controllers
-- the cgroup2 root offers.
function M.layout()
  local text, msg, en = fs.read_file("/proc/self/mountinfo")
  if not text then return nil, msg, en end
  local l = M.parse_mountinfo(text)
  if l.unified then
    local ctl = read(l.unified .. "/cgroup.controllers")
    l.v2 = words(ctl)
  end
  local has_v1 = next(l.v1) ~= nil
  l.kind = l.unified and (has_v1 and "hybrid" or "v2") or (has_v1 and "v1" or "none")
  return l
end

--- crun's conversion of cpu shares [2, 262144] to cpu.weight [1, 10000].
function M.shares_to_weight(shares)
  return 1 + ((shares - 2) * 9999) // 262142
end

--- The limits of a spec (its linux.resources, OCI names and units) as
-- the values the cgroup files get:
-- { memory = bytes, swap = bytes|-1 (memory+swap), swap_optional,
--   cpu_quota = us, cpu_period = us, shares, cpuset_cpus, cpuset_mems,
--   pids = n|"max", parent = "wbl" }, and the id from linux.cgroupsPath
-- (PARENT/ID).
function M.limits(s)
  local r = s.linux.resources or {}
  local path = (s.linux.cgroupsPath or "wbl/x"):gsub("^/+", ""):gsub("/+$", "")
  local parent, id = path:match("^(.*)/([^/]+)$")
  if not parent then parent, id = "", path end -- "/ID": right under the root (OCI)
  if id == "" then
    return nil, ("linux.cgroupsPath %q: expected [PARENT/]ID"):format(path), E.EINVAL
  end
  local lim = { parent = parent, hierarchies = s.wbl and s.wbl.cgroups == "needed" and "needed" or nil }
  local mem, cpu = r.memory or {}, r.cpu or {}
  lim.memory = mem.limit
  lim.reservation = mem.reservation
  lim.unified = r.unified -- cgroup2 files as given (OCI's linux.resources.unified)
  if mem.limit and mem.swap then
    lim.swap = mem.swap
    lim.swap_optional = s.wbl and s.wbl.swap_implicit or nil
  end
  if cpu.quota and cpu.quota > 0 then lim.cpu_quota, lim.cpu_period = cpu.quota, cpu.period or M.cpu_period end
  lim.shares, lim.cpuset_cpus, lim.cpuset_mems = cpu.shares, cpu.cpus, cpu.mems
  if r.pids and r.pids.limit then lim.pids = r.pids.limit > 0 and r.pids.limit or "max" end
  return lim, id
end

-- Which limits need which controller, and the spec field that asked.
local R = "linux.resources."
local needs = {
  { "memory", "memory", R .. "memory.limit" }, { "reservation", "memory", R .. "memory.reservation" },
  { "cpu_quota", "cpu", R .. "cpu.quota" },
  { "shares", "cpu", R .. "cpu.shares" }, { "cpuset_cpus", "cpuset", R .. "cpu.cpus" },
  { "cpuset_mems", "cpuset", R .. "cpu.mems" }, { "pids", "pids", R .. "pids.limit" },
}

local function join(...) return table.concat({ ... }, "/"):gsub("//+", "/") end

--- Does the layout's cgroup2 freeze and count (cgroup.freeze, cpu.stat in
-- every cgroup: Linux 5.2)?  Else a hybrid host's containers join freezer
-- and cpuacct too (M.always).
function M.v2_freezes(l)
  if not l.unified then return false end
  if l.freezes == nil then
    local major, minor = (fs.read_file("/proc/sys/kernel/osrelease") or ""):match("^(%d+)%.(%d+)")
    major, minor = tonumber(major) or 0, tonumber(minor) or 0
    l.freezes = major > 5 or (major == 5 and minor >= 2)
  end
  return l.freezes
end

local function parent_parts(parent)
  local t = {}
  for p in parent:gmatch("[^/]+") do t[#t + 1] = p end
  return t
end

-- The plan: one entry per hierarchy, { mount, v2 = bool, controllers }.
local function plan(l, lim)
  local dirs, by_mount = {}, {}
  local function use(mount, ctl, v2)
    local d = by_mount[mount]
    if not d then
      d = { mount = mount, v2 = v2 or nil, controllers = {} }
      by_mount[mount] = d
      dirs[#dirs + 1] = d
    end
    if ctl then d.controllers[#d.controllers + 1] = ctl end
    d.options = not v2 and l.v1_options[mount] or nil -- (for M.mount_ns, in the container)
  end
  if l.unified then use(l.unified, nil, true) end
  -- the v1 hierarchies this container joins (M.always)
  local limited = {}
  for _, n in ipairs(needs) do
    if lim[n[1]] then limited[n[2]] = true end
  end
  local function wanted(ctl)
    if lim.hierarchies ~= "needed" or M.always[ctl] or limited[ctl] then return true end
    return (ctl == "cpuacct" or ctl == "freezer") and not M.v2_freezes(l)
  end
  local where, skipped = {}, {}
  for _, ctl in ipairs(M.controllers) do
    if l.unified and l.v2[ctl] then
      use(l.unified, ctl, true)
      where[ctl] = l.unified
    elseif l.v1[ctl] and wanted(ctl) then
      use(l.v1[ctl], ctl)
      where[ctl] = l.v1[ctl]
    elseif l.v1[ctl] then
      skipped[#skipped + 1] = l.v1[ctl]
    end
  end
  for _, ctl in ipairs(M.v1_extra) do
    if l.v1[ctl] and not (l.unified and l.v2[ctl]) then
      if wanted(ctl) then use(l.v1[ctl], ctl) else skipped[#skipped + 1] = l.v1[ctl] end
    end
  end
  local unjoined = {}
  for _, mount in ipairs(skipped) do
    if not by_mount[mount] then unjoined[#unjoined + 1] = mount; by_mount[mount] = false end
  end
  for _, n in ipairs(needs) do
    if lim[n[1]] and not where[n[2]] then
      return nil, ("%s: this host has no %s controller (neither in cgroup2 nor as a v1 mount)")
        :format(n[3], n[2]), E.ENOTSUP
    end
  end
  if #dirs == 0 then return nil, "no cgroup file system is mounted", E.ENOENT end
  return dirs, unjoined
end

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- cgroup2: let the controllers through every ancestor's subtree_control.
local function enable(dir, ctls)
  for _, ctl in ipairs(ctls) do
    local file = dir .. "/cgroup.subtree_control"
    local cur = words(read(file))
    if not cur[ctl] then
      local ok, msg, en = write(file, "+" .. ctl)
      if not ok then
        if en == E.EBUSY then
          msg = msg .. " (the no-internal-process rule: " .. dir ..
            " has processes of its own; pick another --cgroup-parent)"
        end
        return nil, msg, en
      end
    end
  end
  return true
end

-- v1 cpuset: a new cgroup starts with no cpus and no mems; take the parent's.
-- (A parent wbl makes has cgroup.clone_children set: the kernel copies
-- them into each new child, and this only reads.)
local function cpuset_inherit(dir)
  for _, f in ipairs({ "cpuset.cpus", "cpuset.mems" }) do
    local v = read(dir .. "/" .. f)
    if v == "" then
      local pv, msg, en = read(dir:match("^(.*)/[^/]+$") .. "/" .. f)
      if not pv then return nil, msg, en end
      local ok
      ok, msg, en = write(dir .. "/" .. f, pv)
      if not ok then return nil, msg, en end
    end
  end
  return true
end

-- Make PARENT (and its missing ancestors) in one hierarchy; returns the
-- list of directories this call made (removed again by M.remove).
local function make_parent(d, parts)
  local made = {}
  local dir = d.mount
  for _, p in ipairs(parts) do
    if d.v2 then
      local ok, msg, en = enable(dir, d.controllers)
      if not ok then return nil, msg, en end
    end
    dir = dir .. "/" .. p
    local ok, msg, en = fs.mkdir(dir, "0755")
    if ok then
      made[#made + 1] = dir
    elseif en ~= E.EEXIST then
      return nil, msg, en, made
    end
    if not d.v2 and has(d.controllers, "cpuset") then
      ok, msg, en = cpuset_inherit(dir)
      if ok and made[#made] == dir then write(dir .. "/cgroup.clone_children", "1") end
      if not ok then return nil, msg, en, made end
    end
  end
  if d.v2 then
    local ok, msg, en = enable(dir, d.controllers)
    if not ok then return nil, msg, en, made end
  end
  return made
end

-- The files a limit goes to: { controller, v2 file, v1 file, value v2, value v1, option }.
local function files(lim, d)
  local out = {}
  local function add(ctl, f2, f1, v2, v1, opt, optional)
    if v2 == nil then return end
    out[#out + 1] = { ctl = ctl, file = d.v2 and f2 or f1, value = d.v2 and v2 or v1,
      option = opt, optional = optional }
  end
  if lim.memory then
    add("memory", "memory.max", "memory.limit_in_bytes", lim.memory, lim.memory, R .. "memory.limit")
    local swap = lim.swap
    add("memory", "memory.swap.max", "memory.memsw.limit_in_bytes",
      swap and (swap == -1 and "max" or tostring(swap - lim.memory)),
      swap and tostring(swap),
      R .. "memory.swap", lim.swap_optional)
  end
  add("memory", "memory.low", "memory.soft_limit_in_bytes", lim.reservation, lim.reservation,
    R .. "memory.reservation")
  if lim.cpu_quota then
    if d.v2 then
      add("cpu", "cpu.max", nil, lim.cpu_quota .. " " .. lim.cpu_period, nil, R .. "cpu.quota")
    else
      add("cpu", nil, "cpu.cfs_period_us", lim.cpu_period, lim.cpu_period, R .. "cpu.period")
      add("cpu", nil, "cpu.cfs_quota_us", lim.cpu_quota, lim.cpu_quota, R .. "cpu.quota")
    end
  end
  if lim.shares then
    add("cpu", "cpu.weight", "cpu.shares", M.shares_to_weight(lim.shares), lim.shares, R .. "cpu.shares")
  end
  add("cpuset", "cpuset.cpus", "cpuset.cpus", lim.cpuset_cpus, lim.cpuset_cpus, R .. "cpu.cpus")
  add("cpuset", "cpuset.mems", "cpuset.mems", lim.cpuset_mems, lim.cpuset_mems, R .. "cpu.mems")
  if lim.pids then add("pids", "pids.max", "pids.max", tostring(lim.pids), tostring(lim.pids), R .. "pids.limit") end
  return out
end

-- linux.resources.unified: "controller.file" = value, written as given
-- into the cgroup2 directory (only there: a v1 hierarchy has other files).
local function unified(lim, d)
  if not lim.unified or not d.v2 then return true end
  local keys = {}
  for k in pairs(lim.unified) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if k:find("/", 1, true) or k:sub(1, 1) == "." then
      return nil, ("%sunified: %q is not a cgroup file name"):format(R, k), E.EINVAL
    end
    local ok, msg, en = write(d.path .. "/" .. k, lim.unified[k])
    if not ok then return nil, ("%sunified %s: %s"):format(R, k, msg), en end
  end
  return true
end

local function apply(lim, d)
  local ok0, msg0, en0 = unified(lim, d)
  if not ok0 then return nil, msg0, en0 end
  for _, f in ipairs(files(lim, d)) do
    if has(d.controllers, f.ctl) then
      local path = d.path .. "/" .. f.file
      local ok, msg, en = write(path, f.value)
      -- ENOENT of an optional file: no swap accounting, and docker's
      -- implicit swap limit is skipped.
      if not ok and not (f.optional and en == E.ENOENT) then
        if en == E.ENOENT and f.ctl == "memory" then
          return nil, ("%s: this kernel has no swap accounting (%s)"):format(f.option, msg), en
        else
          return nil, ("%s %s: %s"):format(f.option, f.value, msg), en
        end
      end
    end
  end
  return true
end

-- Make PARENT/ID in the hierarchy of d (d.path once made, d.made the
-- parents made), controllers enabled on the way (v2), limits written.
local function make(cg, d, lim)
  local path = join(d.mount, cg.parent, cg.id)
  local parts = parent_parts(cg.parent)
  local function exists()
    return nil, ("%s exists: a container named %q is running, or left it behind " ..
      "(wbl scripts/cleanup.lua removes leftovers)"):format(path, cg.id), E.EEXIST
  end
  d.made = d.made or {}
  -- The parent is there (it stays, M.remove): one mkdir.  On cgroup2,
  -- a controller the parent does not pass on is let through first.
  local ok, _, e = fs.mkdir(path, "0755")
  local m
  if ok then
    d.path = path
    if d.v2 and #d.controllers > 0 then
      local have = words(read(path .. "/cgroup.controllers"))
      for _, ctl in ipairs(d.controllers) do
        if not have[ctl] then
          local made, m2, e2, partial = make_parent(d, parts)
          for _, p in ipairs(made or partial or {}) do d.made[#d.made + 1] = p end
          if not made then return nil, m2, e2 end
          break
        end
      end
    end
  elseif e == E.EEXIST then
    return exists()
  end
  -- No parent (ENOENT): the parents first, then the cgroup.  A
  -- concurrent wbl may remove an empty parent between our mkdirs:
  -- ENOENT again means "make the parent again".
  for attempt = 1, d.path and 0 or 3 do
    local made, partial
    made, m, e, partial = make_parent(d, parts)
    for _, p in ipairs(made or partial or {}) do d.made[#d.made + 1] = p end
    if made then
      made, m, e = fs.mkdir(path, "0755")
      if made then d.path = path break end
      if e == E.EEXIST then return exists() end
    end
    if e ~= E.ENOENT or attempt == 3 then return nil, m, e end
  end
  if d.v2 then cg.v2 = d.path end
  ok, m, e = true, nil, nil
  if not d.v2 and has(d.controllers, "cpuset") then ok, m, e = cpuset_inherit(d.path) end
  if ok then ok, m, e = apply(lim, d) end
  if not ok then return nil, m, e end
  return true
end

--- Create the container's cgroups: PARENT/ID in every hierarchy used,
-- controllers enabled on the way (v2), limits written.  On failure what
-- was made is removed again.
-- @param id the container id
-- @param lim from M.limits (nil: no limits, tracking only)
-- @param later true: the v1 hierarchies' only planned (d.pending; the
--   path to join is d.want), made by M.finish.  The cgroup2 one, where
--   clone puts the child, is made now.
-- @return a description (plain data): { id, parent, dirs = { {path, mount,
--   v2, controllers, made} ... }, v2 = path of the cgroup2 directory }
function M.create(id, lim, later)
  lim = lim or { parent = "wbl" }
  local l, msg, en = M.layout()
  if not l then return nil, msg, en end
  local dirs, unjoined
  dirs, unjoined, en = plan(l, lim)
  if not dirs then return nil, unjoined, en end
  -- unjoined: the v1 hierarchies it is not in (M.always), which a later
  -- M.update may join (M.remove looks there too)
  local cg = { id = id, parent = lim.parent, kind = l.kind, dirs = {}, unjoined = unjoined[1] and unjoined or nil }
  for _, d in ipairs(dirs) do
    cg.dirs[#cg.dirs + 1] = d
    if later and not d.v2 then
      d.pending, d.want = true, join(d.mount, lim.parent, id)
    else
      local ok, m, e = make(cg, d, lim)
      if not ok then
        M.remove(cg)
        return nil, m, e
      end
    end
  end
  return cg
end

--- The cgroups M.create(..., later) left to make: made now (on failure
-- the caller's teardown, M.remove, takes what was); with pid, that
-- process is put into them (a user namespace's PID 1: its root may not
-- write the host's cgroup files).
function M.finish(cg, lim, pid)
  lim = lim or { parent = cg.parent }
  for _, d in ipairs(cg.dirs) do
    if d.pending then
      local ok, m, e = make(cg, d, lim)
      if not ok then return nil, m, e end
      d.pending, d.want = nil, nil
    end
  end
  if pid then return M.add(cg, pid) end
  return true
end

--- The options for wbl.proc.spawn that place the child at clone time
-- (clone3 CLONE_INTO_CGROUP into the cgroup2 directory), or {} without
-- cgroup2.  The fd closes itself when collected.
function M.clone_opts(cg)
  if not cg.v2 then return {} end
  local fd, msg, en = core.fd.open(cg.v2, "rdonly,directory")
  if not fd then return nil, msg, en end
  cg.placed = true
  return { cgroup_fd = fd }
end

--- Put pid into the container's cgroups (all of them, except the cgroup2
-- one when the clone already placed it there).  Called before the child
-- is let go, so no code of the container runs outside.
function M.add(cg, pid)
  for _, d in ipairs(cg.dirs) do
    if not (d.v2 and cg.placed) then
      local ok, msg, en = write(d.path .. "/cgroup.procs", pid)
      if not ok then return nil, msg, en end
    end
  end
  return true
end

--- From inside the container, before pivot_root: the calling process
-- (single-threaded: PID 1 before exec) moves itself into every cgroup it
-- is not in yet.  The cgroup2 one is normally done (clone3 placed it);
-- each v1 hierarchy is joined by writing 0 to its tasks file (a no-op
-- where the host already put it).  Moving oneself, one thread, takes no
-- global lock; a cgroup.procs write takes the kernel's
-- cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
-- period (10-20 ms) unless another migration happened just before.
-- (wbl.container.clone leaves the v1 hierarchies to this.)
function M.join(cg)
  -- a child spawned early: the host makes the v1 cgroups meanwhile (M.finish)
  require("wbl.proc").await_go()
  for _, d in ipairs(cg.dirs) do
    local ok, msg, en = true
    local path = d.path or d.want
    if not d.v2 then ok, msg, en = write(path .. "/tasks", 0)
    elseif not cg.placed then ok, msg, en = write(path .. "/cgroup.procs", core.proc.getpid()) end
    if not ok then return nil, msg, en end
  end
  return true
end

--- From inside the container, after M.join: a new cgroup namespace,
-- rooted at the cgroups the process is in now.  /proc/self/cgroup then
-- shows "/" and a cgroup mount shows the container's own cgroup, in every
-- hierarchy, also those the host side placed it in after the clone (v1).
function M.unshare_ns()
  return core.ns.unshare("cgroup")
end

-- The super options of the v1 hierarchy mounted at point (mountinfo):
-- what a new mount of that hierarchy must name ("memory", "cpu,cpuacct").
-- (In a cgroup namespace the root field shows "/.." : not looked at.)
local function v1_options(mountinfo, point)
  for line in mountinfo:gmatch("[^\n]+") do
    local pre, post = line:match("^(.-) %- (.*)$")
    local f = {}
    for w in (pre or ""):gmatch("%S+") do f[#f + 1] = w end
    local fstype, _, super = (post or ""):match("^(%S+) (%S+) (%S+)")
    if fstype == "cgroup" and f[5] and unescape(f[5]) == point then
      local opts = {}
      for o in super:gmatch("[^,]+") do
        if o ~= "rw" and o ~= "ro" and not o:match("^release_agent=") then opts[#opts + 1] = o end
      end
      return table.concat(opts, ",")
    end
  end
end

--- From inside the container, before pivot_root, after M.unshare_ns:
-- its own cgroups at /sys/fs/cgroup in root, read-only, as docker shows
-- them.  v2: the cgroup2 file system.  Hybrid and v1: a small tmpfs with
-- each hierarchy the container is in (memory, cpu, ..., unified) under
-- its host name, and a link per controller of a shared one
-- (cpu -> cpu,cpuacct).
function M.mount_ns(root, cg)
  local inroot, mount = core.inroot, core.mount.mount
  local flags = "ro,nosuid,nodev,noexec"
  local fd, where, en = inroot.open(root, "/sys/fs/cgroup", "dir")
  if not fd then return nil, where, en end
  local ok, msg
  if cg.kind == "v2" then
    ok, msg, en = inroot.mount("cgroup2", fd, nil, flags)
    fd:close()
    if not ok then return nil, msg .. " on " .. tostring(where), en end
    return true
  end
  ok, msg, en = inroot.mount("tmpfs", fd, "mode=755,size=64k", "nosuid,nodev,noexec")
  fd:close()
  if not ok then return nil, msg .. " on " .. tostring(where), en end
  local info = "" -- mountinfo: only for a description saved without d.options
  for _, d in ipairs(cg.dirs) do
    if not d.v2 and not d.options and info == "" then
      info, msg, en = fs.read_file("/proc/self/mountinfo")
      if not info then return nil, msg, en end
    end
    local name = d.mount:match("([^/]+)$")
    local dir = where .. "/" .. name
    ok, msg, en = fs.mkdir(dir, "0755")
    if ok then
      if d.v2 then
        ok, msg, en = inroot.mount("cgroup2", dir, nil, flags)
      else
        local opts = d.options or v1_options(info, d.mount)
        if not opts then return nil, d.mount .. ": not a cgroup v1 mount", E.ENOENT end
        ok, msg, en = inroot.mount("cgroup", dir, opts, flags)
        for ctl in name:gmatch("[^,]+") do
          if ok and ctl ~= name then ok, msg, en = fs.symlink(name, where .. "/" .. ctl) end
        end
      end
    end
    if not ok then return nil, msg .. " on " .. dir, en end
  end
  return mount(nil, where, nil, "remount,bind,ro,nosuid,nodev,noexec")
end

--- The pids in a cgroup directory (a list; empty when it is gone).
function M.pids(dir)
  local s = fs.read_file(dir .. "/cgroup.procs")
  local t = {}
  for p in (s or ""):gmatch("%d+") do t[#t + 1] = tonumber(p) end
  return t
end

local function kill_listed(dir)
  local n = 0
  for _, pid in ipairs(M.pids(dir)) do
    core.proc.kill(pid, "SIGKILL")
    n = n + 1
  end
  return n
end

-- v1: freeze, kill what the freezer cgroup holds, thaw (so nothing forks
-- between reading cgroup.procs and the kills).
local function freeze_kill(dir, state_file, frozen, thawed)
  -- Nothing in it (the container's PID 1 is gone): nothing to freeze.  A
  -- v1 freeze costs milliseconds even when empty (bench/ breakdown).
  if #M.pids(dir) == 0 then return 0 end
  if not write(dir .. "/" .. state_file, frozen) then return kill_listed(dir) end
  for _ = 1, 200 do
    local s = read(dir .. "/" .. state_file)
    if s == nil or s == frozen or s:match("^1") then break end
    sleep_ms(5)
  end
  local n = kill_listed(dir)
  write(dir .. "/" .. state_file, thawed)
  return n
end

--- Kill every process in the container's cgroups: cgroup.kill on cgroup2
-- (5.14+), else freeze and kill (freezer on v1, cgroup.freeze on v2),
-- then whatever any hierarchy still lists.
function M.kill(cg)
  for _, d in ipairs(cg.dirs) do
    if d.path and fs.stat(d.path) then
      if d.v2 then
        if not write(d.path .. "/cgroup.kill", "1") then
          freeze_kill(d.path, "cgroup.freeze", "1", "0")
        end
      elseif has(d.controllers, "freezer") then
        freeze_kill(d.path, "freezer.state", "FROZEN", "THAWED")
      end
    end
  end
  for _, d in ipairs(cg.dirs) do
    if d.path then kill_listed(d.path) end
  end
  return true
end

--- Kill what is left, wait until the cgroups are empty, remove them and
-- the parents this container made (if empty).  What is already gone
-- counts as removed, so this is safe to run twice.
function M.remove(cg, timeout_ms)
  -- Empty, they just go: once a PID namespace's PID 1 is reaped, the
  -- kernel has ended (and reaped) every process of it.  Whatever is still
  -- in one (EBUSY: a process that is not of the namespace) is killed.
  local killed = false
  local deadline = (timeout_ms or 10000) // 10
  local errs, first_en = {}, nil
  for _, d in ipairs(cg.dirs) do
    if d.pending and d.want then fs.rmdir(d.want) end -- (M.finish's, by a wbl killed before its state said so)
    if d.path then
      local ok, msg, en
      for i = 1, deadline do
        ok, msg, en = fs.rmdir(d.path)
        if ok or en == E.ENOENT then ok = true break end
        if en ~= E.EBUSY then break end
        if not killed then M.kill(cg); killed = true
        elseif i % 20 == 0 then kill_listed(d.path) end
        sleep_ms(10)
      end
      if not ok then
        errs[#errs + 1] = msg
        first_en = first_en or en
      end
    end
  end
  -- The parents: those this container made, and all of wbl's own below
  -- "wbl"; never others (a --cgroup-parent of the host's).  EBUSY:
  -- another container still uses it.  "wbl" itself stays (as docker's
  -- "docker" does): making and removing it in every hierarchy at every
  -- start cost ~0.4 ms; M.prune (scripts/cleanup.lua) removes it.
  -- A hierarchy it was not in at create may have been joined since by
  -- another process (an OCI update, M.update): that cgroup goes too.
  local all = cg.dirs
  if cg.unjoined then
    all = table.move(cg.dirs, 1, #cg.dirs, 1, {})
    for _, mount in ipairs(cg.unjoined) do
      local known = false
      for _, d in ipairs(cg.dirs) do known = known or d.mount == mount end
      if not known and fs.rmdir(join(mount, cg.parent, cg.id)) then all[#all + 1] = { mount = mount } end
    end
  end
  local parts = parent_parts(cg.parent)
  for _, d in ipairs(all) do
    local made = {}
    for _, p in ipairs(d.made or {}) do made[p] = true end
    local chain, dir = {}, d.mount
    for _, p in ipairs(parts) do
      dir = dir .. "/" .. p
      chain[#chain + 1] = dir
    end
    for i = #chain, 1, -1 do
      local top_wbl = i == 1 and parts[1] == "wbl"
      if not top_wbl and (parts[1] == "wbl" or made[chain[i]]) then fs.rmdir(chain[i]) end
    end
  end
  if #errs > 0 then return nil, table.concat(errs, "; "), first_en end
  return true
end

--- The directory that holds controller ctl for this container.
function M.dir(cg, ctl)
  for _, d in ipairs(cg.dirs) do
    if has(d.controllers, ctl) then return d.path end
  end
end

--- Counters read from the kernel's files: cpu usage (us), cfs periods
-- and throttled periods, OOM kills, memory in use, pids.
function M.stats(cg)
  local s = {}
  local cpu, acct, mem, pids = M.dir(cg, "cpu"), M.dir(cg, "cpuacct"), M.dir(cg, "memory"), M.dir(cg, "pids")
  local function kv(text)
    local t = {}
    for k, v in (text or ""):gmatch("(%S+) (%d+)") do t[k] = tonumber(v) end
    return t
  end
  local cs = kv(fs.read_file((cpu or cg.v2 or "") .. "/cpu.stat"))
  s.nr_periods, s.nr_throttled = cs.nr_periods, cs.nr_throttled
  if not cs.usage_usec and cpu and cg.v2 then -- v1 cpu, cgroup2's usage (hybrid)
    cs.usage_usec = kv(fs.read_file(cg.v2 .. "/cpu.stat")).usage_usec
  end
  if cs.usage_usec then
    s.cpu_usec = cs.usage_usec
  elseif acct then
    local ns = tonumber(read(acct .. "/cpuacct.usage"))
    s.cpu_usec = ns and ns // 1000
  end
  if mem then
    local ev = kv(fs.read_file(mem .. "/memory.events") or fs.read_file(mem .. "/memory.oom_control"))
    s.oom_kill = ev.oom_kill
    s.memory = tonumber(read(mem .. "/memory.current") or read(mem .. "/memory.usage_in_bytes"))
  end
  if pids then
    s.pids = tonumber(read(pids .. "/pids.current"))
  else -- not in the pids hierarchy (M.always): its threads, counted
    local list = fs.read_file((cg.v2 or mem or "") .. (cg.v2 and "/cgroup.threads" or "/tasks"))
    if list then s.pids = select(2, list:gsub("%d+", "")) end
  end
  return s
end

-- A limit whose controller the container is not under (a v1 hierarchy
-- it did not join, M.always): its cgroup made there, and every process of
-- the container moved in (again, for what forked meanwhile, until none is
-- left outside).  cg.dirs grows: the caller saves the state.
local function extend(cg, lim)
  local l, msg, en
  for _, n in ipairs(needs) do
    local ctl = n[2]
    if lim[n[1]] and not M.dir(cg, ctl) then
      if not l then
        l, msg, en = M.layout()
        if not l then return nil, msg, en end
      end
      local mount = l.v1[ctl]
      if not mount then
        return nil, ("%s: this host has no %s controller (neither in cgroup2 nor as a v1 mount)"):format(n[3], ctl),
          E.ENOTSUP
      end
      local d
      for _, x in ipairs(cg.dirs) do
        if x.mount == mount then d = x end -- co-mounted (cpu,cpuacct) with one it is in
      end
      if d then
        d.controllers[#d.controllers + 1] = ctl
      else
        d = { mount = mount, controllers = { ctl }, options = l.v1_options[mount], made = {} }
        local ok, m, e = make(cg, d, lim)
        -- named by its id, one that exists is its own, from an update cut short
        if not ok and e == E.EEXIST then ok, d.path = true, join(mount, cg.parent, cg.id) end
        if not ok then -- (the parents it made go again)
          if d.path then fs.rmdir(d.path) end
          for i = #d.made, 1, -1 do fs.rmdir(d.made[i]) end
          return nil, m, e
        end
        cg.dirs[#cg.dirs + 1] = d -- (it goes with the container: M.remove)
        local path = d.path
        local from = cg.v2 or M.dir(cg, "memory") or cg.dirs[1].path
        for _ = 1, 100 do
          local inside, moved = {}, 0
          for _, pid in ipairs(M.pids(path)) do inside[pid] = true end
          for _, pid in ipairs(M.pids(from)) do
            if not inside[pid] and write(path .. "/cgroup.procs", pid) then moved = moved + 1 end
          end
          if moved == 0 then break end
        end
      end
    end
  end
  return true
end

--- Change the limits of a container's cgroups (lim from M.limits: only
-- what it holds is written).  An OCI runtime's update.
function M.update(cg, lim)
  local ok0, msg0, en0 = extend(cg, lim)
  if not ok0 then return nil, msg0, en0 end
  for _, d in ipairs(cg.dirs) do
    if d.path then
      local ok, msg, en = apply(lim, d)
      if not ok then return nil, msg, en end
    end
  end
  return true
end

-- The freezer: cgroup.freeze on cgroup2, freezer.state on v1.
local function freezer(cg)
  for _, d in ipairs(cg.dirs) do
    if d.v2 and d.path and fs.stat(d.path .. "/cgroup.freeze") then return d.path .. "/cgroup.freeze", true end
  end
  for _, d in ipairs(cg.dirs) do
    if not d.v2 and has(d.controllers, "freezer") then return d.path .. "/freezer.state", false end
  end
end

--- Freeze (on true) or thaw every process of the container, waiting (at
-- most 2 s) until the kernel says it is done.  An OCI runtime's pause and
-- resume.
function M.freeze(cg, on)
  local file, v2 = freezer(cg)
  if not file then return nil, "this host has no freezer (neither cgroup2's nor a v1 hierarchy)", E.ENOTSUP end
  local want = v2 and (on and "1" or "0") or (on and "FROZEN" or "THAWED")
  local ok, msg, en = write(file, want)
  if not ok then return nil, msg, en end
  for _ = 1, 400 do
    if M.frozen(cg) == on then return true end
    sleep_ms(5)
  end
  return nil, file .. ": the kernel did not finish " .. (on and "freezing" or "thawing"), E.EBUSY
end

--- Is the container frozen (paused)?
function M.frozen(cg)
  local file, v2 = freezer(cg)
  if not file then return false end
  if v2 then
    local ev = read(file:gsub("cgroup%.freeze$", "cgroup.events")) or ""
    return ev:match("frozen 1") ~= nil
  end
  return read(file) == "FROZEN"
end

--- Remove wbl's parent, "wbl", in every hierarchy where it is empty
-- (M.remove leaves it for the next container): one with a container's
-- cgroup (or any other) below it stays (EBUSY).
-- @return the list of directories removed
function M.prune()
  local l, msg, en = M.layout()
  if not l then return nil, msg, en end
  local dirs
  dirs, msg, en = plan(l, {})
  if not dirs then return nil, msg, en end
  local out = {}
  for _, d in ipairs(dirs) do
    if fs.rmdir(d.mount .. "/wbl") then out[#out + 1] = d.mount .. "/wbl" end
  end
  return out
end

--- The description of container id's cgroups, as M.create would make it,
-- for what exists now (specs and tools that know only the name).
function M.find(id, parent)
  local l, msg, en = M.layout()
  if not l then return nil, msg, en end
  local dirs
  dirs, msg, en = plan(l, {})
  if not dirs then return nil, msg, en end
  local cg = { id = id, parent = parent or "wbl", kind = l.kind, dirs = {} }
  for _, d in ipairs(dirs) do
    d.path = join(d.mount, cg.parent, id)
    if fs.stat(d.path) then
      cg.dirs[#cg.dirs + 1] = d
      if d.v2 then cg.v2 = d.path end
    end
  end
  return cg
end

return M
